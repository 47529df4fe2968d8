import ArgumentParser
import Foundation
import NumberProvider

/// `linecard numbers …`: the number-rental service's functions from the shell.
struct NumbersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "numbers",
        abstract: "Rent phone numbers and route their SMS (the number-rental service).",
        discussion: """
            The API token is read from the environment variable LINECARD_NUMBERS_TOKEN, or from
            the file given with --token-file; it is never taken on the command line, where other
            users could see it. docs/NUMBER-PROVIDER.md has the REST mapping.

            The service documents only some of its REST paths. addresses, new-address, rent,
            release and sms-action use paths this client infers or guesses (marked GUESSED
            below); when the service answers 404 or 405 to one, the error says so and quotes
            the service's own text. A field the service leaves out or sends as null is shown
            as "-" (and left out of --json output) rather than failing the command.

            Examples:
              LINECARD_NUMBERS_TOKEN=… linecard numbers account
              linecard numbers groups mobile --json
              linecard numbers rent us-mobile
              linecard numbers sms-action +15551230000 webhook https://gw.example.org/sms/webhook/SECRET
            """,
        subcommands: [Account.self, Addresses.self, NewAddress.self, Groups.self, List.self, Show.self, Rent.self,
                      Release.self, SMSActionCommand.self])

    struct Options: ParsableArguments {
        @Option(help: "The service's API address.")
        var baseURL: String = NumberProviderClient.defaultBaseURL.absoluteString
        @Option(help: "A file holding the API token (instead of LINECARD_NUMBERS_TOKEN).")
        var tokenFile: String?
        @Option(help: "Seconds to wait for an answer.")
        var timeout: Double = 30
        @Flag(help: "Print JSON, for scripts.")
        var json = false

        func client() throws -> NumberProviderClient {
            var token = ProcessInfo.processInfo.environment["LINECARD_NUMBERS_TOKEN"] ?? ""
            if let tokenFile {
                guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                    throw ValidationError("cannot read the token file \(tokenFile)")
                }
                token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard !token.isEmpty else { throw ValidationError("no API token: set LINECARD_NUMBERS_TOKEN or give --token-file") }
            guard let url = URL(string: baseURL) else { throw ValidationError("--base-url \(baseURL) is not a URL") }
            guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
            return try NumberProviderClient(token: token, baseURL: url, timeout: timeout)
        }

        /// Runs `body`, printing its result as JSON or as `text`; a service error is one line
        /// on standard error and exit status 1.
        func run<T: Encodable>(_ body: (NumberProviderClient) async throws -> T, text: (T) -> String) async throws {
            let result: T
            do { result = try await body(try client()) } catch let error as NumberProviderError {
                throw fail(error)
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(text(result))
            }
        }
    }

    struct Account: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The account's balance in satoshis.")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.account() }) { "balance: \($0.balance) satoshis" }
        }
    }

    struct Addresses: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The account's bitcoin deposit addresses (GUESSED path: GET addresses).")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.addresses() }) { $0.map(\.address).joined(separator: "\n") }
        }
    }

    struct NewAddress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "new-address", abstract: "Make a new deposit address (GUESSED path: POST addresses).")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.newAddress() }) { $0.address }
        }
    }

    struct Groups: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The groups numbers can be rented from.")
        @Argument(help: "mobile or local") var type: String
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.groups(type: type) }) { groups in
                groups.map { g in
                    let calls = g.costPerInboundCallMinute.map { "\($0)/call-min" } ?? "no calls"
                    return "\(g.id)\t\(shown(g.name))\tsms \(yesNo(g.smsSupport))\tvoice \(yesNo(g.voiceSupport))\tsetup \(shown(g.setupCost))\t\(shown(g.rentalCostPerMinute))/min\t\(shown(g.costPerInboundMessage))/sms\t\(calls)"
                }.joined(separator: "\n")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The numbers the account rents.")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.numbers() }) { numbers in
                numbers.map { "\($0.e164)\t\(shown($0.groupId))\tSMS to \($0.smsForwardedTo ?? "store")\t\($0.messages.count) messages" }
                    .joined(separator: "\n")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One rented number and its messages.")
        @Argument(help: "The number, in E.164 (+15551230000).") var e164: String
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.number(e164: e164) }) { n in
                (["\(n.e164) (\(shown(n.groupId))) since \(shown(n.assignmentStart)), SMS to \(n.smsForwardedTo ?? "store")"]
                    + n.messages.map { "  \(shown($0.timestamp))  \(shown($0.from)) -> \(shown($0.to)): \(shown($0.content))" }).joined(separator: "\n")
            }
        }
    }

    struct Rent: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rent a number from a group (GUESSED path: POST numbers).")
        @Argument(help: "A group id from `linecard numbers groups`.") var groupID: String
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.startRental(groupId: groupID) }) { "rented \($0.e164) from \(shown($0.groupId))" }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End the rental of a number (GUESSED path: DELETE number).")
        @Argument(help: "The number, in E.164.") var e164: String
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run({ try await $0.endRental(e164: e164) }) { $0 ? "released \(e164)" : "the service did not release \(e164)" }
        }
    }

    struct SMSActionCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sms-action",
            abstract: "Choose what happens to a number's SMS: none (store), forward or webhook (GUESSED path: PUT number/sms_action).")
        @Argument(help: "The number, in E.164.") var e164: String
        @Argument(help: "none, forward or webhook") var action: String
        @Argument(help: "forward: the E.164 number to forward to; webhook: the http(s) URL") var destination: String?
        @OptionGroup var options: Options
        func run() async throws {
            let chosen = action == "none" ? nil : action
            try await options.run({ try await $0.setSMSAction(e164: e164, action: chosen, destination: destination) }) {
                $0 ? "SMS to \(e164): \(action)\(destination.map { " \($0)" } ?? "")" : "the service did not change the SMS action"
            }
        }
    }
}

/// A field the service may leave out, for the text output.
private func shown(_ value: (some CustomStringConvertible)?) -> String { value.map { "\($0)" } ?? "-" }
private func yesNo(_ value: Bool?) -> String { value.map { $0 ? "yes" : "no" } ?? "-" }
