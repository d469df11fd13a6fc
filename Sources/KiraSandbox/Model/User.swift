import Foundation
import KiraJSON

/// An emulated Kira user (an individual or a business) and where its KYC review stands.
struct User: Codable, Sendable {
    /// The user lifecycle `status`. Gate on this, never on `verificationStatus` (Q-GATE-ON-STATUS).
    enum Status: String, Codable, Sendable {
        case created = "CREATED"
        case verifying = "VERIFYING"
        case review = "REVIEW"
        case verified = "VERIFIED"
        case rejected = "REJECTED"
    }

    var id: String
    var type: String
    var email: String
    /// Names and the other flat scalar KYC fields, as sent, in order.
    var profile: JSONObject
    /// The address fields under their response names (`street_line_1`, `city`, …).
    var residentialAddress: JSONObject
    var identifyingInformation: [JSONValue]
    var metadata: JSONObject
    var inputStatus: String?
    var status: Status
    var verificationStatus: String
    var verificationTriggered: Bool
    /// Whether every field the emulator's KYC check needs was sent.
    var complete: Bool
    var createdAt: Date
    var updatedAt: Date

    /// The request's flat address fields and their names in `residential_address`.
    static let addressRenames: [(request: String, response: String)] = [
        ("address_street", "street_line_1"),
        ("address_street_2", "street_line_2"),
        ("address_city", "city"),
        ("address_state", "subdivision"),
        ("address_zip_code", "postal_code"),
        ("address_country", "country"),
    ]

    /// The flat scalar fields kept on the user as sent.
    static let profileFields = [
        "first_name", "middle_name", "last_name", "business_legal_name", "business_trade_name", "birth_date", "phone",
        "nationality", "document_type", "document_number", "document_country", "employment_status", "occupation",
        "account_purpose", "source_of_funds", "tax_id", "business_type", "business_registration_number", "website",
    ]

    static let sourcesOfFunds = [
        "salary", "self_employment_income", "investment_proceeds", "savings_inheritance_gift", "gifts", "inheritance",
        "investments_loans", "pension_retirement", "sale_of_assets_real_estate", "savings", "someone_elses_funds",
    ]

    static let accountPurposes = [
        "receive_payments", "manage_professional_income", "make_payments", "manage_personal_funds", "investment_trading",
        "charitable_donations", "investment_purposes", "operating_a_company", "payments_to_friends_or_family_abroad",
        "personal_or_living_expenses", "purchase_goods_and_services", "protect_wealth", "receive_salary",
        "receive_payment_for_freelancing",
    ]

    /// The fields the emulator's automatic KYC check needs before it starts a review (an
    /// emulator choice: the docs only say "a complete user").
    static let requiredForReview: [String: [String]] = [
        "individual": [
            "first_name", "last_name", "birth_date", "phone", "nationality", "address_street", "address_city",
            "address_zip_code", "address_country", "account_purpose", "source_of_funds",
        ],
        "business": [
            "business_legal_name", "phone", "address_street", "address_city", "address_zip_code", "address_country",
            "account_purpose", "source_of_funds",
        ],
    ]

    /// The user as `GET /v1/users/{id}` returns it (bare).
    var json: JSONValue {
        var object: JSONObject = ["id": .string(id), "type": .string(type), "email": .string(email)]
        for (key, value) in profile { object[key] = value }
        object["status"] = .string(status.rawValue)
        object["verification_status"] = .string(verificationStatus)
        object["verification_triggered"] = .bool(verificationTriggered)
        object["residential_address"] = residentialAddress.count == 0 ? .null : .object(residentialAddress)
        if !identifyingInformation.isEmpty { object["identifying_information"] = .array(identifyingInformation) }
        object["metadata"] = .object(metadata)
        object["created_at"] = .string(Timestamp.format(createdAt))
        object["updated_at"] = .string(Timestamp.format(updatedAt))
        return .object(object)
    }
}
