import Coach
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The coach's full-screen view on ncursesw: polls for the report and the requests, draws them,
/// and lets a person select and open a request. Runs on the main actor (ncurses is global state).
@MainActor
public final class CoachTerminal {
    let terminal: NcursesTerminal
    var view: CoachView
    var quitRequested = false
    var signalSources: [any DispatchSourceSignal] = []

    /// Opens the terminal, or nil when there is none (then the caller prints plain lines).
    public static func open(header: String, noColor: Bool) -> CoachTerminal? {
        guard let terminal = NcursesTerminal.open(noColor: noColor) else { return nil }
        return CoachTerminal(terminal: terminal, header: header)
    }

    init(terminal: NcursesTerminal, header: String) {
        self.terminal = terminal
        self.view = CoachView(header: header, report: CoachReport(steps: [], findings: [], requestCount: 0), requests: [])
    }

    /// Draws until `q`, SIGINT, SIGTERM or SIGHUP; `poll` gives the latest report and requests.
    public func run(poll: @escaping @Sendable () async -> (CoachReport, [CoachRequest])) async {
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
            source.setEventHandler { [weak self] in MainActor.assumeIsolated { self?.quitRequested = true } }
            source.resume()
            signalSources.append(source)
        }
        var lastPoll = Date.distantPast
        var needsDraw = true
        while !quitRequested {
            if Date().timeIntervalSince(lastPoll) >= 0.2 {
                let (report, requests) = await poll()
                if report != view.report || requests != view.requests {
                    view.report = report
                    view.requests = requests
                    needsDraw = true
                }
                lastPoll = Date()
            }
            if needsDraw {
                let size = terminal.size
                terminal.draw(CoachScreen.render(view, width: size.width, height: size.height))
                needsDraw = false
            }
            if let key = terminal.readKey() {
                handle(key)
                needsDraw = true
            }
            await Task.yield()
        }
        terminal.close()
        for source in signalSources { source.cancel() }
    }

    func handle(_ key: KeyPress) {
        switch key {
        case .character("q"), .character("Q"): quitRequested = true
        case .up: if view.detailOpen { view.detailScroll = max(0, view.detailScroll - 1) } else { view.moveSelection(by: -1) }
        case .down: if view.detailOpen { view.detailScroll += 1 } else { view.moveSelection(by: 1) }
        case .pageUp: if view.detailOpen { view.detailScroll = max(0, view.detailScroll - 10) } else { view.moveSelection(by: -10) }
        case .pageDown: if view.detailOpen { view.detailScroll += 10 } else { view.moveSelection(by: 10) }
        case .enter:
            // Opening pins the selection, so new requests do not replace what is being read.
            if !view.detailOpen { view.selected = view.selectedRequest?.sequence }
            view.detailOpen.toggle()
            view.detailScroll = 0
        case .escape: view.detailOpen = false
        default: break
        }
    }
}
