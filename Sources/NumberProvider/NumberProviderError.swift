import Foundation

/// Why a number-provider call failed. Messages never contain the API token.
public enum NumberProviderError: Error, Equatable, CustomStringConvertible {
    /// An argument was refused before any request was sent (the reference's ValueError).
    case invalidArgument(name: String, message: String)
    /// The service refused the token (401 or 403).
    case unauthorized(status: Int, message: String)
    /// The service answered with another error status.
    case http(status: Int, message: String)
    /// The service has no such path or method (404 or 405) for a call whose REST path this
    /// client guesses (the reference does not document it); `message` is the service's text.
    case guessedPathRefused(method: String, path: String, status: Int, message: String)
    /// The answer could not be read as the documented JSON.
    case malformedResponse(String)
    /// No answer within the client's timeout.
    case timeout(seconds: Double)
    /// The service could not be reached.
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalidArgument(let name, let message): "\(name): \(message)"
        case .unauthorized(let status, let message): "the service refused the API token (HTTP \(status))\(Self.suffix(message))"
        case .http(let status, let message): "the service answered HTTP \(status)\(Self.suffix(message))"
        case .guessedPathRefused(let method, let path, let status, let message):
            "the service answered HTTP \(status) to \(method) \(path)\(Self.suffix(message)). The reference does not document this "
                + "call's REST path and this client guesses it; the guess is wrong for this service (docs/NUMBER-PROVIDER.md lists the guesses)"
        case .malformedResponse(let why): "the service's answer is not what its API documents: \(why)"
        case .timeout(let seconds): "the service did not answer within \(Self.format(seconds)) s"
        case .unreachable(let why): "cannot reach the service: \(why)"
        }
    }

    private static func suffix(_ message: String) -> String { message.isEmpty ? "" : ": \(message)" }
    private static func format(_ seconds: Double) -> String { String(format: "%g", seconds) }
}
