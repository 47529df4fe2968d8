import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Linecard
import NumberProvider

/// What the gateway does with an SMS the number-rental service posts to its webhook.
public struct SMSWebhookConfiguration: Sendable, Equatable {
    public enum Action: String, Sendable, Equatable, CaseIterable {
        /// Keep it (GET /api/v1/sms lists them).
        case store
        /// Read it aloud: a call request to `callNumber` with text to speech.
        case call
        /// POST it, as received, to `forwardURL` (a local program).
        case forward
    }

    /// Must appear in the webhook URL (`/sms/webhook/<secret>`) or the
    /// `X-Webhook-Secret` header. At least 16 characters.
    public var secret: String
    public var action: Action = .store
    public var callNumber: DialString?
    /// What is spoken: `{sender}`, `{e164}` and `{content}` are filled in.
    public var speech = "Text message from {sender}. {content}"
    public var forwardURL: URL?

    public init(secret: String, action: Action = .store) {
        self.secret = secret
        self.action = action
    }

    func validate() throws {
        guard secret.count >= 16 else { throw ConfigurationError(message: "smsWebhook.secret: use at least 16 characters") }
        guard secret.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.~".contains($0)) }) else {
            throw ConfigurationError(message: "smsWebhook.secret: use letters, digits, -, _, . and ~ (it goes in a URL)")
        }
        switch action {
        case .call:
            guard callNumber != nil else { throw ConfigurationError(message: "smsWebhook.callNumber is needed for the call action") }
        case .forward:
            guard let url = forwardURL, ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
                throw ConfigurationError(message: "smsWebhook.forwardURL (an http or https URL) is needed for the forward action")
            }
        case .store: break
        }
    }

    /// The text spoken for `sms`; the sender's digits are spaced so they are read one by one.
    func speechText(for sms: IncomingSMS) -> String {
        func spaced(_ number: String) -> String { number.filter(\.isNumber).map(String.init).joined(separator: " ") }
        return speech.replacingOccurrences(of: "{sender}", with: spaced(sms.sender))
            .replacingOccurrences(of: "{e164}", with: spaced(sms.e164))
            .replacingOccurrences(of: "{content}", with: sms.content)
    }

    /// Compares in constant time, so that response times do not give the secret away.
    func accepts(_ given: String?) -> Bool {
        guard let given else { return false }
        let a = Array(secret.utf8), b = Array(given.utf8)
        var difference = a.count ^ b.count
        for i in 0..<max(a.count, b.count) {
            difference |= Int((i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0))
        }
        return difference == 0
    }

    /// Checks a webhook body: the documented fields, an E.164 receiving number, sane sizes.
    public static func parse(_ data: Data) throws -> IncomingSMS {
        let sms: IncomingSMS
        do { sms = try JSONDecoder().decode(IncomingSMS.self, from: data) } catch {
            throw RequestError.bad("the body is not an SMS notification {id, e164, sender, content}: \(GatewayRoutes.describe(error))")
        }
        do { try Validation.e164(sms.e164) } catch { throw RequestError.bad("\(error)") }
        guard !sms.sender.isEmpty, sms.sender.count <= 32 else { throw RequestError.bad("sender must be 1 to 32 characters") }
        guard sms.content.count <= 1600 else { throw RequestError.bad("content is longer than 1600 characters") }
        return sms
    }

    /// POSTs the SMS as JSON to `forwardURL`; returns what happened, for the inbox.
    static func forward(_ sms: IncomingSMS, to url: URL) async -> String {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? JSONEncoder().encode(sms)
        request.timeoutInterval = 10
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return (200..<300).contains(status) ? "forwarded" : "forward failed: HTTP \(status)"
        } catch {
            return "forward failed: \(error.localizedDescription)"
        }
    }
}
