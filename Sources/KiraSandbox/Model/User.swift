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
    /// The `identifying_information` entries as kept: `type`, `issuing_country`, and `"provided"`
    /// in place of the number and of each image (never the data itself).
    var identifyingInformation: [JSONValue]
    var metadata: JSONObject
    var inputStatus: String?
    var status: Status
    var verificationStatus: String
    var verificationTriggered: Bool
    /// Whether every field the emulator's KYC check needs was sent.
    var complete: Bool
    /// Why the KYC check refuses each image of an entry, by the entry's `type` (absent: none).
    var imageProblems: [String: [String]]?
    /// Why the running verification will reject the user (set when it triggers; empty or absent:
    /// it goes on to `REVIEW`).
    var rejectionReasons: [String]?
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
        "gender", "pep_status", "ein",
    ]

    /// `gender` values (an emulator choice).
    static let genders = ["male", "female", "other"]

    /// `pep_status` values (an emulator choice).
    static let pepStatuses = ["not_pep", "pep"]

    /// `identifying_information[].type` values: identity numbers, government IDs and the proof of
    /// address.
    static let identityNumberTypes = ["ssn", "tax_id"]
    static let governmentIDTypes = ["passport", "drivers_license", "national_id"]
    static let identityTypes = identityNumberTypes + governmentIDTypes + ["file_proof_of_address"]

    /// The image fields of an `identifying_information` entry.
    static let imageFields = ["image_front", "image_back", "file"]

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

    /// The scalar fields that trigger automatic verification (Kira's "Required Fields for
    /// Automatic Verification"), by request name, except `source_of_funds`: its absence does not
    /// stop verification from starting, it makes it reject the user (Q-SOF-REJECT).
    static let triggerFields: [String: [String]] = [
        "individual": [
            "first_name", "last_name", "birth_date", "email", "phone", "nationality", "gender", "address_street",
            "address_city", "address_state", "address_zip_code", "address_country", "document_type", "document_number",
            "document_country", "account_purpose", "employment_status", "occupation", "pep_status",
        ],
        "business": [
            "business_legal_name", "email", "business_type", "ein", "address_street", "address_city", "address_state",
            "address_zip_code", "address_country",
        ],
    ]

    /// A field's value under its request name (`address_city` is kept as `residential_address.city`).
    func value(of field: String) -> String? {
        if field == "email" { return email }
        if let rename = Self.addressRenames.first(where: { $0.request == field }) {
            return residentialAddress[rename.response]?.stringValue
        }
        return profile[field]?.stringValue
    }

    /// What the completeness rule still misses: blank scalar fields, then the entries of
    /// `identifying_information` an individual needs. Empty when verification can trigger.
    var missingForVerification: [String] {
        var missing = (Self.triggerFields[type] ?? []).filter { field in
            (value(of: field)?.trimmingWhitespace.isEmpty ?? true)
        }
        guard type == "individual" else { return missing }
        func entries(_ types: [String]) -> [JSONObject] {
            identifyingInformation.compactMap(\.objectValue).filter { types.contains($0["type"]?.stringValue ?? "") }
        }
        if !entries(Self.identityNumberTypes).contains(where: { $0["number"] != nil }) {
            missing.append("identifying_information ssn or tax_id with number")
        }
        if !entries(Self.governmentIDTypes).contains(where: { $0["image_front"] != nil }) {
            missing.append("identifying_information government ID with image_front")
        }
        if !entries(["file_proof_of_address"]).contains(where: { $0["file"] != nil }) {
            missing.append("identifying_information file_proof_of_address with file")
        }
        return missing
    }

    /// The user as `GET /v1/users/{id}` returns it (bare).
    var json: JSONValue {
        var object: JSONObject = ["id": .string(id), "type": .string(type), "email": .string(email)]
        for (key, value) in profile { object[key] = value }
        object["status"] = .string(status.rawValue)
        object["verification_status"] = .string(verificationStatus)
        object["verification_triggered"] = .bool(verificationTriggered)
        object["residential_address"] = residentialAddress.count == 0 ? .null : .object(residentialAddress)
        if !identifyingInformation.isEmpty {
            // The number is not echoed; images come back as "provided".
            object["identifying_information"] = .array(
                identifyingInformation.map { entry in
                    guard case .object(var fields) = entry else { return entry }
                    fields["number"] = nil
                    return .object(fields)
                }
            )
        }
        object["metadata"] = .object(metadata)
        object["created_at"] = .string(Timestamp.format(createdAt))
        object["updated_at"] = .string(Timestamp.format(updatedAt))
        return .object(object)
    }
}
