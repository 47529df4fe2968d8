import Foundation
import NumberProvider
import XCTest

/// The client against a fake of the service on loopback, over real HTTP.
final class NumberProviderClientTests: XCTestCase {
    let token = "tok_3f9a8b7c6d5e4f"
    var service: FakeService!
    var client: NumberProviderClient!

    override func setUp() async throws {
        service = FakeService()
        try await service.start()
        client = try NumberProviderClient(token: token, baseURL: service.baseURL, timeout: 5)
    }

    override func tearDown() async throws { service.stop() }

    static let number = """
        {"e164": "+1234567890", "group_id": "us-mobile", "sms": true, "cost_per_minute": 13,
         "cost_per_inbound_message": 705, "assignment_start": "2018-01-01T01:01:01.000000", "sms_forwarded_to": null,
         "messages": [{"from": "+1234567890", "to": "+1234", "content": "abc", "timestamp": "2018-01-01T01:01:02.000000",
                       "success": true, "cost": 1000}]}
        """

    func testEveryFunctionSendsItsMappedRequestAndParsesTheDocumentedResult() async throws {
        service.reply("GET", "/api/v1/account", json: #"{"balance": 12345}"#)
        service.reply("GET", "/api/v1/addresses", json: #"[{"address": "1abc"}, {"address": "1def"}]"#)
        service.reply("POST", "/api/v1/addresses", json: #"{"address": "1new"}"#)
        service.reply("GET", "/api/v1/groups", json: """
            [{"id": "cz-mobile", "type": "mobile", "name": "Czech Republic", "country_code": "cz", "sms_support": true,
              "voice_support": false, "setup_cost": 32093, "rental_cost_per_minute": 269, "cost_per_inbound_message": 601,
              "cost_per_inbound_call_minute": null},
             {"id": "gb-mobile", "type": "mobile", "name": "United Kingdom", "country_code": "gb", "sms_support": true,
              "voice_support": true, "setup_cost": 1000, "rental_cost_per_minute": 100, "cost_per_inbound_message": 50,
              "cost_per_inbound_call_minute": 300}]
            """)
        service.reply("GET", "/api/v1/numbers", json: "[\(Self.number)]")
        service.reply("GET", "/api/v1/number", json: Self.number)
        service.reply("POST", "/api/v1/numbers", json: """
            {"e164": "+1234567891", "group_id": "us-mobile", "sms": true, "cost_per_minute": 13, "cost_per_inbound_message": 705,
             "assignment_start": "2018-01-02T01:01:01.000000", "sms_forwarded_to": null, "messages": []}
            """)
        service.reply("DELETE", "/api/v1/number", json: "true")
        service.reply("PUT", "/api/v1/number/sms_action", FakeService.Reply(status: 204, body: ""))

        let account = try await client.account()
        XCTAssertEqual(account.balance, 12_345)
        let addresses = try await client.addresses()
        XCTAssertEqual(addresses.map(\.address), ["1abc", "1def"])
        let newAddress = try await client.newAddress()
        XCTAssertEqual(newAddress.address, "1new")
        let groups = try await client.groups(type: "mobile")
        XCTAssertEqual(groups.count, 2)
        XCTAssertEqual(groups[0].countryCode, "cz")
        XCTAssertNil(groups[0].costPerInboundCallMinute, "null stays nil")
        XCTAssertEqual(groups[1].costPerInboundCallMinute, 300)
        XCTAssertEqual(groups[0].voiceSupport, false)
        let numbers = try await client.numbers()
        XCTAssertEqual(numbers.first?.messages.first?.content, "abc")
        let number = try await client.number(e164: "+1234567890")
        XCTAssertNil(number.smsForwardedTo)
        XCTAssertEqual(number.assignmentStart, Date(timeIntervalSince1970: 1_514_768_461))
        XCTAssertEqual(number.messages.first?.timestamp, Date(timeIntervalSince1970: 1_514_768_462))
        XCTAssertEqual(number.messages.first?.cost, 1000)
        let rented = try await client.startRental(groupId: "us-mobile")
        XCTAssertEqual(rented.e164, "+1234567891")
        XCTAssertEqual(rented.messages, [])
        let ended = try await client.endRental(e164: "+1234567891")
        XCTAssertTrue(ended)
        let forwarded = try await client.setSMSAction(e164: "+1234567890", action: "forward", destination: "+44123456789")
        XCTAssertTrue(forwarded)
        let hooked = try await client.setSMSAction(e164: "+1234567890", action: "webhook", destination: "https://example.org/webhook")
        XCTAssertTrue(hooked)
        let stored = try await client.setSMSAction(e164: "+1234567890", action: nil, destination: nil)
        XCTAssertTrue(stored)

        let r = service.requests
        XCTAssertEqual(r.map { "\($0.method) \($0.path)?\($0.query)" }, [
            "GET /api/v1/account?", "GET /api/v1/addresses?", "POST /api/v1/addresses?", "GET /api/v1/groups?type=mobile",
            "GET /api/v1/numbers?", "GET /api/v1/number?e164=%2B1234567890", "POST /api/v1/numbers?",
            "DELETE /api/v1/number?e164=%2B1234567891", "PUT /api/v1/number/sms_action?e164=%2B1234567890",
            "PUT /api/v1/number/sms_action?e164=%2B1234567890", "PUT /api/v1/number/sms_action?e164=%2B1234567890",
        ])
        XCTAssertTrue(r.allSatisfy { $0.authorization == "Bearer \(token)" }, "the token goes in the Authorization header")
        XCTAssertFalse(r.contains { $0.query.contains(token) || $0.path.contains(token) }, "never in the URL")
        XCTAssertEqual(try json(r[6].body), ["group_id": "us-mobile"])
        XCTAssertEqual(r[6].contentType, "application/json")
        XCTAssertEqual(try json(r[8].body), ["action": "forward", "destination": "+44123456789"])
        XCTAssertEqual(try json(r[9].body), ["action": "webhook", "destination": "https://example.org/webhook"])
        XCTAssertEqual(try json(r[10].body), ["action": NSNull(), "destination": NSNull()])
    }

    func testBadArgumentsAreRefusedBeforeAnyRequestNamingTheArgument() async throws {
        let cases: [(String, () async throws -> Void)] = [
            ("group_type", { _ = try await self.client.groups(type: "tollfree") }),
            ("e164", { _ = try await self.client.number(e164: "1234567890") }),
            ("e164", { _ = try await self.client.number(e164: "+0123456") }),
            ("e164", { _ = try await self.client.number(e164: "+1234567890123456") }),
            ("e164", { _ = try await self.client.number(e164: "+") }),
            ("e164", { _ = try await self.client.endRental(e164: "+12 34") }),
            ("group_id", { _ = try await self.client.startRental(groupId: "us mobile; drop") }),
            ("action", { _ = try await self.client.setSMSAction(e164: "+1234567890", action: "sms", destination: nil) }),
            ("destination", { _ = try await self.client.setSMSAction(e164: "+1234567890", action: "forward", destination: "abc") }),
            ("destination", { _ = try await self.client.setSMSAction(e164: "+1234567890", action: "forward", destination: nil) }),
            ("destination", { _ = try await self.client.setSMSAction(e164: "+1234567890", action: "webhook", destination: "ftp://x.org/") }),
            ("destination", { _ = try await self.client.setSMSAction(e164: "+1234567890", action: nil, destination: "+44123") }),
            ("e164", { _ = try await self.client.setSMSAction(e164: "44123", action: nil, destination: nil) }),
        ]
        for (argument, call) in cases {
            do {
                try await call()
                XCTFail("\(argument): no error")
            } catch NumberProviderError.invalidArgument(let name, let message) {
                XCTAssertEqual(name, argument, message)
                XCTAssertFalse(message.isEmpty)
            }
        }
        XCTAssertEqual(service.requests.count, 0, "no request was sent")
        XCTAssertThrowsError(try NumberProviderClient(token: "", baseURL: service.baseURL))
    }

    func testServiceErrorsBecomeTypedErrorsWithTheServicesMessage() async throws {
        service.reply("GET", "/api/v1/account", status: 401, json: #"{"error": "invalid token"}"#)
        await assertError(try await client.account(), .unauthorized(status: 401, message: "invalid token"))
        service.reply("GET", "/api/v1/number", status: 404, json: #"{"message": "not rented by this account"}"#)
        await assertError(try await client.number(e164: "+1234567890"), .http(status: 404, message: "not rented by this account"))
        service.reply("GET", "/api/v1/numbers", FakeService.Reply(status: 500, body: "Internal Server Error"))
        await assertError(try await client.numbers(), .http(status: 500, message: "Internal Server Error"))
        service.reply("GET", "/api/v1/addresses", json: "[{\"address\": 1")
        await assertError(try await client.addresses(), .malformedResponse("not JSON"))
        service.reply("GET", "/api/v1/groups", json: #"[{"name": "x"}]"#)
        do { _ = try await client.groups(type: .local); XCTFail() } catch NumberProviderError.malformedResponse(let why) {
            XCTAssertTrue(why.contains(".id is missing"), why)
        }
        service.reply("GET", "/api/v1/number", json: #"{"e164": "+1", "group_id": "g", "sms": true, "cost_per_minute": 1, "cost_per_inbound_message": 1, "assignment_start": "yesterday"}"#)
        do { _ = try await client.number(e164: "+1234567890"); XCTFail() } catch NumberProviderError.malformedResponse(let why) {
            XCTAssertTrue(why.contains("yesterday"), why)
        }
        service.reply("DELETE", "/api/v1/number", json: "\"gone\"")
        await assertError(try await client.endRental(e164: "+1234567890"), .malformedResponse("expected true or an object, got \"gone\""))
        service.reply("GET", "/api/v1/account", FakeService.Reply(status: 200, body: #"{"balance": 1}"#, delay: .seconds(3)))
        let impatient = try NumberProviderClient(token: token, baseURL: service.baseURL, timeout: 0.5)
        await assertError(try await impatient.account(), .timeout(seconds: 0.5))
        let nobody = try NumberProviderClient(token: token, baseURL: URL(string: "http://127.0.0.1:9/api/v1")!, timeout: 2)
        do { _ = try await nobody.account(); XCTFail() } catch NumberProviderError.unreachable {}
    }

    /// The reference's client hands back the service's dicts as they are: a null or missing
    /// cost, flag or timestamp must not fail the whole call here either.
    func testNullOrMissingOptionalFieldsDoNotFailTheCall() async throws {
        service.reply("GET", "/api/v1/groups", json: """
            [{"id": "cz-mobile", "type": "mobile", "name": "Czech Republic", "sms_support": null,
              "setup_cost": null, "rental_cost_per_minute": 269}]
            """)
        let groups = try await client.groups(type: .mobile)
        XCTAssertEqual(groups.first?.id, "cz-mobile")
        XCTAssertNil(groups.first?.setupCost)
        XCTAssertNil(groups.first?.smsSupport)
        XCTAssertNil(groups.first?.costPerInboundMessage)
        XCTAssertEqual(groups.first?.rentalCostPerMinute, 269)
        service.reply("GET", "/api/v1/number", json: """
            {"e164": "+1234567890", "group_id": "us-mobile", "cost_per_minute": null, "assignment_start": null,
             "messages": [{"from": "+1234567890", "to": "+1234", "content": "abc", "timestamp": "2018-01-01T01:01:02.000000",
                           "success": null}, {"from": "+1999", "content": "no cost, no success"}]}
            """)
        let number = try await client.number(e164: "+1234567890")
        XCTAssertNil(number.costPerMinute)
        XCTAssertNil(number.assignmentStart)
        XCTAssertEqual(number.messages.count, 2)
        XCTAssertNil(number.messages[0].success)
        XCTAssertNil(number.messages[0].cost)
        XCTAssertEqual(number.messages[1].content, "no cost, no success")
    }

    /// A 404 or 405 to a path the client guesses says that it is a guess, with the service's
    /// own words; the same status on a documented path stays a plain HTTP error.
    func testAWrongGuessedPathIsReportedAsSuchWithTheServicesText() async throws {
        service.reply("POST", "/api/v1/numbers", status: 404, json: #"{"error": "no route POST /numbers; use /rentals"}"#)
        await assertError(try await client.startRental(groupId: "us-mobile"),
                          .guessedPathRefused(method: "POST", path: "numbers", status: 404, message: "no route POST /numbers; use /rentals"))
        service.reply("PUT", "/api/v1/number/sms_action", FakeService.Reply(status: 405, body: "Method Not Allowed"))
        do {
            _ = try await client.setSMSAction(e164: "+1234567890", action: nil, destination: nil)
            XCTFail("no error")
        } catch let error as NumberProviderError {
            let text = "\(error)"
            XCTAssertTrue(text.contains("HTTP 405 to PUT number/sms_action: Method Not Allowed"), text)
            XCTAssertTrue(text.contains("guesses"), text)
        }
        service.reply("GET", "/api/v1/number", status: 404, json: #"{"message": "not rented"}"#)
        await assertError(try await client.number(e164: "+1234567890"), .http(status: 404, message: "not rented"))
    }

    func testTheTokenAppearsInNoDescriptionOrError() async throws {
        XCTAssertFalse(client.description.contains(token))
        service.reply("GET", "/api/v1/account", status: 401, json: #"{"error": "bad"}"#)
        do { _ = try await client.account() } catch { XCTAssertFalse("\(error)".contains(token)) }
    }

    private func json(_ text: String) throws -> NSDictionary {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    private func assertError<T>(_ body: @autoclosure () async throws -> T, _ expected: NumberProviderError,
                                file: StaticString = #filePath, line: UInt = #line) async {
        do {
            _ = try await body()
            XCTFail("no error", file: file, line: line)
        } catch let error as NumberProviderError {
            XCTAssertEqual(error, expected, file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }
}
