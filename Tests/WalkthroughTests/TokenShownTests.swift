import Foundation
import Testing
import WalkthroughPresentation

@testable import WalkthroughCore
@testable import WalkthroughRunner

/// The header's token countdown comes from `sessionChanged(_:tokenExpiresAt:)`: the token a step
/// captured must be known to the presenter before the next request, which carries it, is shown.
@Suite struct TokenShownTests {
    @Test func theTokenCapturedByAuthenticationIsKnownBeforeTheNextRequestIsShown() async throws {
        try await WalkthroughFixture.with { fixture in
            let presenter = RecordingPresenter()
            #expect(await fixture.run(try quickstart(), presenter: presenter) == .completed)
            let previews = await presenter.previews
            let known = await presenter.tokenKnownAtPreview
            let auth = try #require(previews.firstIndex { $0.hasPrefix("POST ") && $0.hasSuffix("/auth") }, "\(previews)")
            #expect(known.count == previews.count)
            for index in (auth + 1)..<previews.count {
                #expect(known[index], "\(previews[index]) was shown while the header said 'no token yet'")
            }
        }
    }
}
