import Foundation
import KiraClient
import KiraJSON
import WalkthroughCore

/// Where a tour's setups happen (`Scenario`): the emulator's controls. A seam, so the runner knows
/// the kinds of setup and not how an emulator is driven.
public protocol ScenarioStage: Sendable {
    /// Moves the emulator's clock `seconds` forward; why it failed, if it did.
    func advanceClock(by seconds: Double) async -> String?
    /// Performs what an operator would do; why it failed, if it did.
    func perform(_ action: OperatorRequest) async -> String?
    /// Adds a fault the emulator answers with; why it failed, if it did.
    func injectFault(_ fault: JSONValue) async -> String?
}

/// This project's emulator at a base URL, through its `/__emulator/` controls.
public struct EmulatorStage: ScenarioStage {
    public var baseURL: String
    public var adminToken: String?

    /// The emulator serving `baseURL`.
    public init(baseURL: String, adminToken: String? = nil) {
        self.baseURL = baseURL
        self.adminToken = adminToken
    }

    public func advanceClock(by seconds: Double) async -> String? {
        await EmulatorControls.advanceClock(by: seconds, baseURL: baseURL, adminToken: adminToken)
    }

    public func perform(_ action: OperatorRequest) async -> String? {
        await EmulatorControls.perform(action, baseURL: baseURL, adminToken: adminToken)
    }

    public func injectFault(_ fault: JSONValue) async -> String? {
        await EmulatorControls.injectFault(fault, baseURL: baseURL, adminToken: adminToken)
    }
}
