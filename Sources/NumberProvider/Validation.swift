import Foundation

/// The argument checks the reference makes before any request (its ValueErrors).
public enum Validation {
    /// `+` then 1 to 15 digits, the first not 0.
    public static func e164(_ number: String, argument: String = "e164") throws {
        let digits = number.dropFirst()
        guard number.first == "+", (1...15).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), digits.first != "0" else {
            throw NumberProviderError.invalidArgument(
                name: argument, message: "\"\(number)\" is not an E.164 number (+ then 1 to 15 digits, the first not 0)")
        }
    }

    public static func groupType(_ text: String) throws -> GroupType {
        guard let type = GroupType(rawValue: text) else {
            throw NumberProviderError.invalidArgument(name: "group_type", message: "\"\(text)\" is not a group type: use mobile or local")
        }
        return type
    }

    public static func groupID(_ id: String) throws {
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw NumberProviderError.invalidArgument(
                name: "group_id", message: "\"\(id)\" is not a group id (letters, digits, - and _, as groups() lists them)")
        }
    }

    /// The reference's `set_sms_action(e164, action, destination)` arguments.
    public static func smsAction(_ action: String?, destination: String?) throws -> SMSAction {
        switch action {
        case nil:
            guard destination == nil else {
                throw NumberProviderError.invalidArgument(name: "destination", message: "must be None when action is None")
            }
            return .store
        case "forward":
            guard let destination else {
                throw NumberProviderError.invalidArgument(name: "destination", message: "forward needs the E.164 number to forward to")
            }
            try e164(destination, argument: "destination")
            return .forward(to: destination)
        case "webhook":
            guard let destination, let url = URL(string: destination), let scheme = url.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", url.host?.isEmpty == false else {
                throw NumberProviderError.invalidArgument(
                    name: "destination", message: "webhook needs an http:// or https:// URL, not \"\(destination ?? "None")\"")
            }
            return .webhook(url)
        case let other?:
            throw NumberProviderError.invalidArgument(name: "action", message: "\"\(other)\" is not an action: use forward, webhook or None")
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
