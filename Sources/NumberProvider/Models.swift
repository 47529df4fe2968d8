import Foundation

/// The account: its balance in satoshis.
public struct Account: Codable, Sendable, Equatable {
    public var balance: Int64
}

/// A bitcoin address for funding the account.
public struct DepositAddress: Codable, Sendable, Equatable {
    public var address: String
}

/// Whether a group's numbers are mobile or local (geographic) numbers.
public enum GroupType: String, Codable, Sendable, CaseIterable {
    case mobile, local
}

/// A group numbers are rented from. Costs are in satoshis. Only `id` is required: the
/// reference client hands back whatever the service sends, so a field the service leaves
/// out or sends as null is nil here rather than a failed call.
public struct NumberGroup: Codable, Sendable, Equatable {
    public var id: String
    public var type: String?
    public var name: String?
    public var countryCode: String?
    public var smsSupport: Bool?
    public var voiceSupport: Bool?
    public var setupCost: Int64?
    public var rentalCostPerMinute: Int64?
    public var costPerInboundMessage: Int64?
    /// nil where the group takes no calls.
    public var costPerInboundCallMinute: Int64?

    enum CodingKeys: String, CodingKey {
        case id, type, name
        case countryCode = "country_code"
        case smsSupport = "sms_support"
        case voiceSupport = "voice_support"
        case setupCost = "setup_cost"
        case rentalCostPerMinute = "rental_cost_per_minute"
        case costPerInboundMessage = "cost_per_inbound_message"
        case costPerInboundCallMinute = "cost_per_inbound_call_minute"
    }
}

/// An SMS a rented number sent or received. Fields the service leaves out or sends as null
/// are nil.
public struct TextMessage: Codable, Sendable, Equatable {
    public var from: String?
    public var to: String?
    public var content: String?
    public var timestamp: Date?
    public var success: Bool?
    /// Satoshis.
    public var cost: Int64?
}

/// A number the account rents. Only `e164` is required; other fields the service leaves out
/// or sends as null are nil (`messages`: empty).
public struct RentedNumber: Codable, Sendable, Equatable {
    public var e164: String
    public var groupId: String?
    public var sms: Bool?
    public var costPerMinute: Int64?
    public var costPerInboundMessage: Int64?
    public var assignmentStart: Date?
    /// Where its SMS go (a number or a webhook URL); nil when they are only stored.
    public var smsForwardedTo: String?
    public var messages: [TextMessage]

    enum CodingKeys: String, CodingKey {
        case e164, sms, messages
        case groupId = "group_id"
        case costPerMinute = "cost_per_minute"
        case costPerInboundMessage = "cost_per_inbound_message"
        case assignmentStart = "assignment_start"
        case smsForwardedTo = "sms_forwarded_to"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        e164 = try c.decode(String.self, forKey: .e164)
        groupId = try c.decodeIfPresent(String.self, forKey: .groupId)
        sms = try c.decodeIfPresent(Bool.self, forKey: .sms)
        costPerMinute = try c.decodeIfPresent(Int64.self, forKey: .costPerMinute)
        costPerInboundMessage = try c.decodeIfPresent(Int64.self, forKey: .costPerInboundMessage)
        assignmentStart = try c.decodeIfPresent(Date.self, forKey: .assignmentStart)
        smsForwardedTo = try c.decodeIfPresent(String.self, forKey: .smsForwardedTo)
        // A new rental may come without the list at all.
        messages = try c.decodeIfPresent([TextMessage].self, forKey: .messages) ?? []
    }
}

/// What happens when a rented number receives an SMS.
public enum SMSAction: Sendable, Equatable {
    /// Stored, to be read through the API or the website.
    case store
    /// Forwarded to another number (E.164).
    case forward(to: String)
    /// POSTed as JSON to an http(s) URL.
    case webhook(URL)
}

/// The body the service POSTs to an SMS webhook.
public struct IncomingSMS: Codable, Sendable, Equatable {
    public var id: Int64
    public var e164: String
    public var sender: String
    public var content: String

    public init(id: Int64, e164: String, sender: String, content: String) {
        self.id = id
        self.e164 = e164
        self.sender = sender
        self.content = content
    }
}
