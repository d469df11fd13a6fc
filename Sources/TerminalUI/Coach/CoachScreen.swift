import Coach
import Foundation
import KiraJSON

/// What the coach's full-screen view shows: a generic checklist, request list and findings.
public struct CoachView: Sendable, Equatable {
    /// The first line: where the server listens and how to reach it.
    public var header: String
    /// The checklist and findings.
    public var report: CoachReport
    /// The requests, oldest first.
    public var requests: [CoachRequest]
    /// The selected request's sequence number; nil follows the newest.
    public var selected: Int?
    /// Whether the selected request is open whole.
    public var detailOpen = false
    /// The first line shown of the open request.
    public var detailScroll = 0

    /// A view with nothing selected.
    public init(header: String, report: CoachReport, requests: [CoachRequest]) {
        self.header = header
        self.report = report
        self.requests = requests
    }

    /// The selected request (the newest when none is).
    public var selectedRequest: CoachRequest? {
        guard let selected else { return requests.last }
        return requests.first { $0.sequence == selected } ?? requests.last
    }

    /// Moves the selection by `offset` requests (negative: older).
    public mutating func moveSelection(by offset: Int) {
        guard !requests.isEmpty else { return }
        let current = selected.flatMap { sequence in requests.firstIndex { $0.sequence == sequence } } ?? (requests.count - 1)
        let next = min(max(current + offset, 0), requests.count - 1)
        selected = next == requests.count - 1 ? nil : requests[next].sequence
    }
}

/// Draws a `CoachView` into a grid. Pure.
public enum CoachScreen {
    static let green = TextStyle(color: .green, bold: true)
    static let red = TextStyle(color: .red, bold: true)
    static let yellow = TextStyle(color: .yellow, bold: true)
    static let dim = TextStyle(dim: true)
    static let title = TextStyle(bold: true, underline: true)

    /// The view at `width`×`height`.
    public static func render(_ view: CoachView, width: Int, height: Int) -> ScreenGrid {
        var grid = ScreenGrid(width: max(width, 1), height: max(height, 1))
        guard width >= 20, height >= 8 else {
            _ = grid.put("Terminal too small", row: 0, column: 0)
            return grid
        }
        grid.fill(row: 0, column: 0, width: width, style: TextStyle(reverse: true))
        // The open request's page leaves the header (with the demo credentials) out: it is the
        // page a person copies from.
        let header = view.detailOpen ? "Request detail — secrets masked as ***" : view.header
        _ = grid.put(" " + header, row: 0, column: 0, style: TextStyle(reverse: true), limit: width)
        let footer =
            view.detailOpen
            ? " ↑/↓ scroll   Esc/Enter back   q quit" : " ↑/↓ select a request   Enter open it   q quit"
        _ = grid.put(footer, row: height - 1, column: 0, style: dim, limit: width)
        if view.detailOpen, let request = view.selectedRequest {
            renderDetail(request, scroll: view.detailScroll, into: &grid, width: width, height: height)
            return grid
        }
        var row = 2
        let doneCount = view.report.steps.filter(\.done).count
        _ = grid.put("Checklist \(doneCount)/\(view.report.steps.count)", row: 1, column: 1, style: title)
        for (index, step) in view.report.steps.enumerated() where row < height - 2 {
            let mark = step.done ? "[x]" : "[ ]"
            let column = grid.put(mark, row: row, column: 1, style: step.done ? green : dim)
            _ = grid.put(" \(index + 1). \(step.title)", row: row, column: column, style: step.done ? .plain : dim, limit: width - column)
            row += 1
        }
        row += 1
        let errors = view.report.findings.filter { $0.severity == .error }.count
        let warnings = view.report.findings.count - errors
        if row < height - 2 {
            _ = grid.put("Findings: \(errors) error(s), \(warnings) warning(s)", row: row, column: 1, style: title)
            row += 1
        }
        let requestRows = max(3, min(view.requests.count + 1, (height - row) / 2))
        let findingsEnd = height - 2 - requestRows
        for finding in view.report.findings where row < findingsEnd {
            let style = finding.severity == .error ? red : yellow
            var column = grid.put(finding.severity.rawValue.uppercased(), row: row, column: 1, style: style)
            column = grid.put(" \(finding.quirk) ", row: row, column: column, style: TextStyle(bold: true))
            let times = finding.count > 1 ? " (×\(finding.count))" : ""
            _ = grid.put(
                "\(finding.request.method) \(finding.request.target) → \(finding.request.status)\(times): \(finding.message)", row: row,
                column: column, limit: width - column)
            row += 1
            if row < findingsEnd, !finding.fix.isEmpty {
                _ = grid.put("    fix: \(finding.fix)", row: row, column: 1, style: dim, limit: width - 2)
                row += 1
            }
        }
        if view.report.findings.isEmpty, row < findingsEnd {
            _ = grid.put("None so far.", row: row, column: 3, style: dim)
            row += 1
        }
        row = max(row + 1, findingsEnd)
        guard row < height - 1 else { return grid }
        _ = grid.put("Requests (\(view.report.requestCount))", row: row, column: 1, style: title)
        row += 1
        let visible = height - 1 - row
        guard visible > 0 else { return grid }
        let selected = view.selectedRequest?.sequence
        let selectedIndex = view.requests.firstIndex { $0.sequence == selected } ?? (view.requests.count - 1)
        let first = max(0, min(selectedIndex - visible + 1, view.requests.count - visible))
        let severalTenants = Set(view.requests.compactMap(\.tenant)).count > 1
        for request in view.requests[max(0, first)...].prefix(visible) {
            let isSelected = request.sequence == selected
            let style = isSelected ? TextStyle(reverse: true) : .plain
            if isSelected { grid.fill(row: row, column: 0, width: width, style: style) }
            let latency = String(format: "%6.1f ms", request.latencyMilliseconds)
            let tenant = severalTenants ? "  \(request.tenant ?? "no tenant")" : ""
            let method = request.method.padding(toLength: 6, withPad: " ", startingAt: 0)
            var column = grid.put(String(format: " %4d ", request.sequence), row: row, column: 0, style: style)
            column = grid.put("\(method) ", row: row, column: column, style: style)
            let statusStyle =
                isSelected ? style : (request.status >= 400 || request.status == 0 ? red : request.status >= 300 ? yellow : green)
            let statusWidth = 5 + latency.count + tenant.count + 1
            column = grid.put(request.target, row: row, column: column, style: style, limit: max(1, width - column - statusWidth))
            let statusColumn = max(column + 1, width - statusWidth)
            let afterStatus = grid.put(String(format: "%3d ", request.status), row: row, column: statusColumn, style: statusStyle)
            _ = grid.put(latency + tenant, row: row, column: afterStatus, style: style, limit: width - afterStatus)
            row += 1
        }
        return grid
    }

    /// The lines of an open request: the request, the response and the facts, secrets already masked.
    public static func detailLines(_ request: CoachRequest) -> [String] {
        request.detailJSON.text(.pretty).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    static func renderDetail(_ request: CoachRequest, scroll: Int, into grid: inout ScreenGrid, width: Int, height: Int) {
        let lines = detailLines(request)
        _ = grid.put("Request #\(request.sequence): \(request.method) \(request.target) → \(request.status)", row: 1, column: 1, style: title, limit: width - 2)
        let visible = height - 3
        let start = max(0, min(scroll, lines.count - visible))
        for (offset, line) in lines[start...].prefix(visible).enumerated() {
            _ = grid.put(line, row: 2 + offset, column: 1, limit: width - 2)
        }
    }
}
