import ChildProcesses
import DurableFiles
import Foundation
import KiraJSON
import WalkthroughCore
import WalkthroughPresentation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The full-screen walkthrough: a `WalkthroughPresenter` whose decisions come from keys.
///
/// Everything runs on the main actor: the key loop polls with a 50 ms timeout and yields between
/// polls, so the run (network, emulator) proceeds on other threads while input and drawing stay
/// responsive. The runner's questions wait on continuations that key presses resume.
@MainActor
public final class TerminalWalkthrough: WalkthroughPresenter {
    /// What the interface needs before the run starts, so the first frame appears at once.
    public struct Configuration: Sendable {
        public var flowTitle: String
        public var sessionName: String
        public var targetLabel: String
        public var isLocalEmulator: Bool
        public var stepTitles: [String]
        /// Where copied curl commands are written.
        public var stateDirectory: String
        public var environment: [String: String]
        /// The quirk catalogue's one-line summaries, by id (for lesson cards and the last screen).
        public var quirkSummaries: [String: String]
        /// The distinct quirk ids the flow can raise (`Flow.raisableQuirkIDs`).
        public var raisableQuirkIDs: [String]

        public init(
            flowTitle: String, sessionName: String, targetLabel: String, isLocalEmulator: Bool, stepTitles: [String],
            stateDirectory: String,
            environment: [String: String], quirkSummaries: [String: String] = [:], raisableQuirkIDs: [String] = []
        ) {
            self.quirkSummaries = quirkSummaries
            self.raisableQuirkIDs = raisableQuirkIDs
            self.flowTitle = flowTitle
            self.sessionName = sessionName
            self.targetLabel = targetLabel
            self.isLocalEmulator = isLocalEmulator
            self.stepTitles = stepTitles
            self.stateDirectory = stateDirectory
            self.environment = environment
        }
    }

    let configuration: Configuration
    let terminal: NcursesTerminal
    var screen: WalkthroughScreen
    var renderer: WalkthroughRenderer
    var needsDraw = true
    var lastDraw = Date.distantPast
    var quitRequested = false
    var outcome: RunOutcome?
    var currentStepID: String?
    /// The step shown, for the fields its quirk rules and waits name.
    var currentStep: FlowStep?
    /// The session's events as of the last change (what the last screen counts).
    var sessionEvents: [SessionEvent] = []
    /// Quirk ids whose lesson card was shown in this run: each pauses once.
    var lessonsShown: Set<String> = []
    var lessonContinuation: CheckedContinuation<Void, Never>?
    var signalSources: [any DispatchSourceSignal] = []

    var sendDecisionContinuation: CheckedContinuation<SendDecision, Never>?
    var inputContinuation: CheckedContinuation<String?, Never>?
    var chooseContinuation: CheckedContinuation<Int?, Never>?
    var resendContinuation: CheckedContinuation<Bool?, Never>?
    var failedContinuation: CheckedContinuation<FailureChoice, Never>?
    var waitContinuation: CheckedContinuation<WaitResult, Never>?
    var waitDeadline: Date?

    /// Opens the terminal; `nil` when there is none (the caller falls back to plain mode).
    public static func open(_ configuration: Configuration) -> TerminalWalkthrough? {
        let noColor = !(configuration.environment["NO_COLOR"] ?? "").isEmpty
        guard let terminal = NcursesTerminal.open(noColor: noColor) else { return nil }
        return TerminalWalkthrough(configuration: configuration, terminal: terminal)
    }

    init(configuration: Configuration, terminal: NcursesTerminal) {
        self.configuration = configuration
        self.terminal = terminal
        screen = WalkthroughScreen(
            flowTitle: configuration.flowTitle, sessionName: configuration.sessionName, targetLabel: configuration.targetLabel,
            isLocalEmulator: configuration.isLocalEmulator, steps: configuration.stepTitles.map { ($0, StepState.pending) },
            mode: .starting(configuration.isLocalEmulator ? "Starting the local emulator…" : "Connecting…")
        )
        let utf8 = String(cString: nl_langinfo(nl_item(CODESET))).uppercased().replacingOccurrences(of: "-", with: "") == "UTF8"
        renderer = WalkthroughRenderer(glyphs: utf8 ? .unicode : .ascii, colors: terminal.colors)
    }

    /// Draws the first frame, runs `work` (which runs the walkthrough with this presenter) and
    /// the key loop until the person quits. Always restores the terminal.
    public func run(_ work: @escaping @Sendable (TerminalWalkthrough) async -> RunOutcome) async -> RunOutcome? {
        draw()
        installSignalHandlers()
        let task = Task { [self] in
            let result = await work(self)
            await self.finished(result)
        }
        while !quitRequested {
            let now = Date()
            if let deadline = waitDeadline, now >= deadline {
                waitDeadline = nil
                screen.mode = .sending(since: now)
                resumeWait(.elapsed)
            }
            if needsDraw || now.timeIntervalSince(lastDraw) > (isAnimated ? 0.1 : 1) { draw() }
            if let key = terminal.readKey() { handle(key) }
            await Task.yield()
        }
        // Quitting: answer any pending question with "stop", let the run save and end.
        resumeAllWithQuit()
        let deadline = Date().addingTimeInterval(2)
        while outcome == nil, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if outcome == nil { task.cancel() }
        terminal.close()
        for source in signalSources { source.cancel() }
        return outcome
    }

    var isAnimated: Bool {
        // A lesson card waits for Enter: nothing under it counts.
        if screen.lesson != nil { return false }
        switch screen.mode {
        case .sending, .waiting, .starting: return true
        default: return false
        }
    }

    func draw() {
        renderer.now = Date()
        let size = terminal.size
        terminal.draw(renderer.render(screen, width: size.width, height: size.height))
        needsDraw = false
        lastDraw = Date()
    }

    func finished(_ result: RunOutcome) {
        outcome = result
        switch result {
        case .completed:
            screen.mode = .complete
            // The list of quirks met is the one pane left: it has the focus, j/k scroll it at once.
            screen.focus = .response
            screen.scroll[.response] = 0
            screen.quirksMet = QuirksMet(
                events: sessionEvents, summaries: { [configuration] in configuration.quirkSummaries[$0] },
                raisable: configuration.raisableQuirkIDs)
        case .blocked(let advice): screen.mode = .stopped(advice)
        case .failed(let message): screen.mode = .stopped(message)
        case .quit: quitRequested = true
        }
        needsDraw = true
    }

    func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler { [weak self] in
                MainActor.assumeIsolated { self?.quitRequested = true }
            }
            source.resume()
            signalSources.append(source)
        }
    }

    func resumeAllWithQuit() {
        sendDecisionContinuation?.resume(returning: .quit)
        sendDecisionContinuation = nil
        inputContinuation?.resume(returning: nil)
        inputContinuation = nil
        chooseContinuation?.resume(returning: nil)
        chooseContinuation = nil
        resendContinuation?.resume(returning: nil)
        resendContinuation = nil
        failedContinuation?.resume(returning: .quit)
        failedContinuation = nil
        resumeWait(.quit)
        dismissLesson()
    }

    func dismissLesson() {
        screen.lesson = nil
        lessonContinuation?.resume()
        lessonContinuation = nil
    }

    func resumeWait(_ value: WaitResult) {
        waitContinuation?.resume(returning: value)
        waitContinuation = nil
        waitDeadline = nil
    }

    // MARK: Keys

    func handle(_ key: KeyPress) {
        needsDraw = true
        screen.flash = nil
        if key == .resize { return }
        if screen.showHelp {
            if key == .escape || key == .character("?") || key == .character("q") { screen.showHelp = false }
            return
        }
        if screen.lesson != nil {
            // The lesson stays until Enter: nothing else moves the walkthrough on.
            switch key {
            case .enter: dismissLesson()
            case .character("q"): quitRequested = true
            case .character("?"): screen.showHelp = true
            default: break
            }
            return
        }
        if case .input(var request, var text) = screen.mode {
            switch key {
            case .enter:
                let value = text.isEmpty ? (request.defaultValue ?? "") : text
                screen.mode = .sending(since: Date())
                inputContinuation?.resume(returning: value)
                inputContinuation = nil
            case .backspace:
                if !text.isEmpty { text.removeLast() }
                screen.mode = .input(request, text: text)
            case .escape:
                if !text.isEmpty {
                    screen.mode = .input(request, text: "")
                } else if request.optional {
                    inputContinuation?.resume(returning: "")
                    inputContinuation = nil
                } else {
                    request.error = "\(request.name) is needed to go on; q quits (progress is saved)"
                    screen.mode = .input(request, text: text)
                }
            case .character(let character) where !character.isNewline:
                if text.isEmpty, character == "q", request.defaultValue != nil || request.optional == false {
                    // A lone q in an empty field quits, as everywhere else.
                    quitRequested = true
                    return
                }
                text.append(character)
                screen.mode = .input(request, text: text)
            default:
                break
            }
            return
        }
        switch key {
        case .character("q"): quitRequested = true
        case .character("?"): screen.showHelp = true
        case .tab: cycleFocus(by: 1)
        case .backTab: cycleFocus(by: -1)
        case .character("j"),
            .down where !isBlocked:
            scroll(by: 1)
        case .character("k"),
            .up where !isBlocked:
            scroll(by: -1)
        case .pageDown: scroll(by: 15)
        case .pageUp: scroll(by: -15)
        case .character("g"), .home: screen.scroll[screen.focus] = 0
        case .character("G"), .end: screen.scroll[screen.focus] = Int.max / 2
        case .character("h"): screen.showResponseHeaders.toggle()
        case .character("s"): screen.revealSecrets.toggle()
        case .character("c"): copyCurl()
        case .character("["), .left: browse(by: -1)
        case .character("]"), .right: browse(by: 1)
        default: handleModeKey(key)
        }
    }

    var isBlocked: Bool {
        if case .blocked = screen.mode { return true }
        return false
    }

    func cycleFocus(by step: Int) {
        if case .complete = screen.mode { return }
        let panes = WalkthroughScreen.Pane.allCases
        let index = panes.firstIndex(of: screen.focus) ?? 0
        screen.focus = panes[(index + step + panes.count) % panes.count]
        if screen.focus == .request, !screen.hasNextRequest, screen.exchange != nil { cycleFocus(by: step) }
    }

    func scroll(by lines: Int) {
        let current = min(screen.scroll[screen.focus] ?? 0, scrollLimit(screen.focus))
        screen.scroll[screen.focus] = max(0, min(scrollLimit(screen.focus), current + lines))
    }

    /// Moves through the step's exchanges (folded polls count as one); past the last, follows
    /// the newest again.
    func browse(by step: Int) {
        if case .complete = screen.mode { return }
        let entries = screen.exchangeEntries
        guard entries.count > 1 else {
            screen.flash = entries.isEmpty ? "No exchange in this step yet" : "This step has one exchange so far"
            return
        }
        let current = screen.browsedEntry ?? (entries.count - 1)
        let next = max(0, min(entries.count - 1, current + step))
        screen.browsedEntry = next == entries.count - 1 ? nil : next
        show(entries[next].last)
        screen.scroll[.response] = 0
        screen.focus = .response
    }

    /// Shows `exchange` in the exchange section.
    func show(_ exchange: ExchangeRecord) {
        screen.exchange = exchange
        screen.responseBody = exchange.responseBody.map { PrettyBody(text: $0) }
    }

    /// The largest useful offset of a pane: its line count (the renderer clamps to its height).
    func scrollLimit(_ pane: WalkthroughScreen.Pane) -> Int {
        switch pane {
        case .steps: 0
        case .explanation: max(0, screen.explanation.count / 20)
        case .request: (screen.previewBody?.lines.count ?? 0) + (screen.preview?.headers.count ?? 0) + 2
        case .response:
            (screen.responseBody?.lines.count ?? 0) + screen.captures.count + screen.notes.count * 6
                + (screen.exchange?.requestBody?.count ?? 0) / 20 + (screen.quirksMet?.entries.count ?? 0) * 4 + 12
        }
    }

    func handleModeKey(_ key: KeyPress) {
        switch screen.mode {
        case .confirm:
            if key == .enter {
                screen.mode = .sending(since: Date())
                sendDecisionContinuation?.resume(returning: .send)
                sendDecisionContinuation = nil
            } else if key == .character("e") {
                editBody()
            }
        case .blocked(let blocked, var selection):
            switch key {
            case .enter: choose(selection, in: blocked)
            case .up: selection = max(0, selection - 1)
            case .down: selection = min(blocked.remedies.count - 1, selection + 1)
            case .character(let character):
                if let number = character.wholeNumberValue, number >= 1, number <= min(9, blocked.remedies.count) {
                    choose(number - 1, in: blocked)
                    return
                }
            default: break
            }
            if case .blocked = screen.mode { screen.mode = .blocked(blocked, selection: selection) }
        case .resend:
            if key == .enter || key == .character("y") {
                resendContinuation?.resume(returning: true)
            } else if key == .character("n") {
                resendContinuation?.resume(returning: false)
            } else {
                return
            }
            resendContinuation = nil
            screen.mode = .sending(since: Date())
        case .failed:
            if key == .enter || key == .character("r") {
                failedContinuation?.resume(returning: .retry)
            } else if key == .character("S") {
                failedContinuation?.resume(returning: .skip)
            } else {
                return
            }
            failedContinuation = nil
            screen.mode = .sending(since: Date())
        case .waiting:
            if key == .escape { resumeWait(.cancelled) }
        default:
            break
        }
    }

    func choose(_ index: Int, in blocked: BlockedQuirk) {
        guard blocked.remedies.indices.contains(index) else { return }
        guard blocked.remedies[index].available else {
            screen.flash = "\(blocked.remedies[index].label): \(blocked.remedies[index].unavailableReason ?? "unavailable")"
            return
        }
        screen.mode = .sending(since: Date())
        chooseContinuation?.resume(returning: index)
        chooseContinuation = nil
    }

    // MARK: Editing and copying

    /// Opens the request body in `$VISUAL`/`$EDITOR`; invalid JSON is explained and reopened.
    func editBody() {
        guard let body = screen.preview?.editableBody else {
            screen.flash = "This request has no body to edit"
            return
        }
        let editor =
            configuration.environment["VISUAL"].flatMap { $0.isEmpty ? nil : $0 } ?? configuration.environment["EDITOR"].flatMap {
                $0.isEmpty ? nil : $0
            } ?? "vi"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kira-walkthrough-body-\(getpid()).json").path
        var text = body.text(.pretty) + "\n"
        var problem: String?
        terminal.suspend()
        defer {
            terminal.resume()
            try? FileManager.default.removeItem(atPath: path)
        }
        for _ in 0..<5 {
            FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            if let problem { StandardStream.error.write("kira-walkthrough: \(problem) — opening the editor again.\n") }
            // An empty signal mask, default dispositions and no descriptor of ours but the
            // terminal's three: the editor must see Ctrl-C and SIGTERM like any program started by a shell.
            do {
                try ChildProcess.run("/bin/sh", ["-c", "\(editor) \"$1\"", "editor", path])
            } catch {
                screen.flash = "Cannot run the editor \(editor): \(error)"
                return
            }
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? text
            do {
                let edited = try JSONValue.parse(text)
                screen.flash = "Body edited"
                screen.mode = .sending(since: Date())
                sendDecisionContinuation?.resume(returning: .edit(edited))
                sendDecisionContinuation = nil
                return
            } catch {
                problem = "The body is not valid JSON: \(error.description)"
            }
        }
        screen.flash = "\(problem ?? "Invalid JSON"); the body was left as it was"
    }

    /// Copies the request as a curl command: to the terminal's clipboard (OSC 52) and to a file.
    func copyCurl() {
        guard let preview = screen.preview else {
            screen.flash = "No request to copy yet"
            return
        }
        let command = CurlCommand.render(preview, baseURLVariable: "KIRA_BASE_URL", baseURL: Self.baseURL(of: preview))
        let path = "\(configuration.stateDirectory)/\(configuration.sessionName).\(preview.requestID).curl.sh"
        FileManager.default.createFile(
            atPath: path, contents: Data(("#!/usr/bin/env bash\n" + command + "\n").utf8), attributes: [.posixPermissions: 0o700])
        terminal.writeRaw("\u{1B}]52;c;\(Data(command.utf8).base64EncodedString())\u{07}")
        // Short, so the path fits the footer: it is what a person copies next.
        let home = NSHomeDirectory()
        let shown = !home.isEmpty && home != "/" && path.hasPrefix(home + "/") ? "~" + path.dropFirst(home.count) : path
        screen.flash = "Copied as curl (OSC 52) · saved to \(shown)"
    }

    static func baseURL(of preview: RequestPreview) -> String {
        guard let range = preview.url.range(of: "/sandbox") else { return preview.url }
        return String(preview.url[..<range.upperBound])
    }
}

extension TerminalWalkthrough {
    public func stepStarted(index: Int, of total: Int, step: FlowStep, state: StepState) async {
        screen.cursor = index
        screen.explanation = step.explain
        screen.preview = nil
        screen.previewBody = nil
        screen.previewSent = false
        screen.exchange = nil
        screen.responseBody = nil
        screen.stepExchanges = []
        screen.browsedEntry = nil
        screen.watchedFields = [:]
        for request in step.requests {
            if let field = request.wait?.until.field { screen.watchedFields[request.id] = field }
        }
        screen.captures = []
        screen.notes = []
        screen.scroll = [:]
        currentStepID = step.id
        currentStep = step
        needsDraw = true
    }

    public func requestPreview(_ preview: RequestPreview) async {
        screen.preview = preview
        screen.previewSent = false
        screen.previewBody = preview.body.map { PrettyBody(json: $0) }
        screen.scroll[.request] = 0
        needsDraw = true
    }

    public func sendDecision() async -> SendDecision {
        if quitRequested { return .quit }
        screen.mode = .confirm
        needsDraw = true
        return await withCheckedContinuation { sendDecisionContinuation = $0 }
    }

    public func exchange(_ exchange: ExchangeRecord) async {
        if exchange.stepID != currentStepID { screen.stepExchanges = [] }
        screen.stepExchanges.append(exchange)
        if screen.preview?.requestID == exchange.requestID { screen.previewSent = true }
        if screen.browsedEntry == nil {
            show(exchange)
            screen.scroll[.response] = 0
        }
        needsDraw = true
    }

    public func captured(_ captures: [(name: String, value: String)]) async {
        for capture in captures {
            screen.captures.removeAll { $0.name == capture.name }
            screen.captures.append(capture)
        }
        needsDraw = true
    }

    /// Notes of the step join the exchange section; the first time a note-quirk fires, the run
    /// pauses on its lesson card until Enter.
    public func events(_ events: [SessionEvent]) async {
        screen.notes += events.filter { $0.stepID == currentStepID }
        needsDraw = true
        for event in events where event.kind == .note {
            guard let id = event.quirkID, !lessonsShown.contains(id), !quitRequested else { continue }
            guard Self.isLesson(event, step: currentStep, lastRequestID: screen.stepExchanges.last?.requestID) else { continue }
            lessonsShown.insert(id)
            screen.lesson = lesson(for: event)
            needsDraw = true
            await withCheckedContinuation { lessonContinuation = $0 }
        }
    }

    /// Whether a note is a quirk's lesson, worth a card. A webhook's outcome (the `webhook:` block
    /// of the request just sent) names the quirk it confirms, but it is not that quirk's lesson
    /// (the deposit's webhook, before the list that shows the deposit is invisible): the card
    /// waits for the rule's own note.
    nonisolated static func isLesson(_ event: SessionEvent, step: FlowStep?, lastRequestID: String?) -> Bool {
        guard event.kind == .note, let id = event.quirkID else { return false }
        guard let request = step?.requests.first(where: { $0.id == lastRequestID }), request.webhook?.quirk == id else { return true }
        return request.quirks.contains { $0.id == id && $0.effect == .note }
    }

    /// The card for a note: the field its rule tests, and that field's value in the step's last response.
    func lesson(for event: SessionEvent) -> WalkthroughScreen.Lesson {
        let id = event.quirkID ?? ""
        let requests = event.stepID == currentStepID ? currentStep?.requests ?? [] : []
        let rule = requests.flatMap(\.quirks).first { $0.id == id && $0.effect == .note }
        let field = rule?.when.field
        var value: String?
        if let field, let last = screen.stepExchanges.last, let body = last.responseBody, let json = try? JSONValue.parse(body) {
            value = field.resolve(in: json).map(WalkthroughEngine.describe)
        }
        return WalkthroughScreen.Lesson(
            quirkID: id, summary: configuration.quirkSummaries[id], explanation: event.text, field: field?.description, value: value)
    }

    public func ask(_ input: InputRequest) async -> String? {
        if quitRequested { return nil }
        screen.mode = .input(input, text: "")
        needsDraw = true
        return await withCheckedContinuation { inputContinuation = $0 }
    }

    public func choose(_ blocked: BlockedQuirk) async -> Int? {
        if quitRequested { return nil }
        screen.mode = .blocked(blocked, selection: blocked.recommended ?? 0)
        needsDraw = true
        return await withCheckedContinuation { chooseContinuation = $0 }
    }

    public func askResend(_ request: RenderedRequest) async -> Bool? {
        if quitRequested { return nil }
        screen.mode = .resend
        needsDraw = true
        return await withCheckedContinuation { resendContinuation = $0 }
    }

    public func failed(stepID: String, message: String) async -> FailureChoice {
        if quitRequested { return .quit }
        screen.mode = .failed(message)
        needsDraw = true
        return await withCheckedContinuation { failedContinuation = $0 }
    }

    public func wait(seconds: Double, attempt: Int, quirk: String?, explain: String?) async -> WaitResult {
        if quitRequested { return .quit }
        screen.mode = .waiting(next: Date().addingTimeInterval(seconds), attempt: attempt, quirk: quirk, explain: explain)
        waitDeadline = Date().addingTimeInterval(seconds)
        needsDraw = true
        return await withCheckedContinuation { waitContinuation = $0 }
    }

    /// The step list already shows it: the next `sessionChanged` redraws its glyph.
    public func stepFinished(index: Int, state: StepState) async {}

    /// Webhooks show in the session's events once the engine records them.
    public func webhookReceived(_ record: WebhookEventRecord) async {}

    public func operatorAction(_ action: OperatorRequest) async {
        screen.flash = "As the Kira operator on the local emulator: \(action.verb.rawValue) \(action.id)"
        needsDraw = true
    }

    public func notice(_ text: String) async {
        screen.flash = text
        needsDraw = true
    }

    public func sessionChanged(_ session: Session, tokenExpiresAt: Date?) async {
        screen.steps = session.steps.map { ($0.title, $0.state) }
        sessionEvents = session.events
        // The cursor moves with `stepStarted`: a step's own lesson is shown under its title.
        screen.pinnedVersion = session.pinnedVersion
        screen.tokenExpiresAt = tokenExpiresAt
        needsDraw = true
    }
}
