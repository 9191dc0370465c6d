import Foundation
import Testing

/// The console as an administrator types at it: a typo gets the nearest word, a missing
/// package the ones that apply.
@Suite("Did you mean")
struct DidYouMeanTests {
    @Test(
        "a typo gets one suggestion, exit 2",
        arguments: [
            ("baton plna", "error: 'plna' is not a baton command; did you mean 'plan'?"),
            (
                "baton plan examples/contoso.yaml --package exhcange-2003-sp2",
                "unknown package 'exhcange-2003-sp2'; did you mean 'exchange-2003-sp2'?"
            ),
            ("baton lab fault bare-setp NW-EX1", "error: no fault kind 'bare-setp'; did you mean 'bare-setup'?"),
            ("baton lab fix move-blackot NW-EX1", "error: no fault kind 'move-blackot'; did you mean 'move-blackout'?"),
            ("baton rules mx-no-downgrad", "error: no rule 'mx-no-downgrad'; did you mean 'mx-no-downgrade'?"),
            ("baton status run-11", "error: no run 'run-11' in .baton; did you mean 'run-1'?"),
            ("baton lab show --twin defualt", "no lab twin 'defualt' in .baton; did you mean 'default'?"),
        ])
    func suggestion(_ line: String, _ expected: String) throws {
        let folder = try BatonProcess.UserFolder("did-you-mean")
        defer { folder.remove() }
        #expect(
            try folder.shell("baton run examples/mx-two-member-dag.yaml --package exchange-2016-cu23 --yes").status == 0
        )
        let result = try folder.shell(line)
        #expect(result.status == 2, "\(line): \(result.stderr)")
        #expect(result.stderr.contains(expected), "\(line): \(result.stderr)")
    }

    @Test("no --package: the packages that apply to the inventory, for every command that plans")
    func missingPackage() throws {
        let folder = try BatonProcess.UserFolder("missing-package")
        defer { folder.remove() }
        for command in ["plan", "check", "run", "commands", "quality", "lab rehearse"] {
            let result = try folder.shell("baton \(command) examples/mx-two-member-dag.yaml")
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains(
                    "error: give --package; these apply to examples/mx-two-member-dag.yaml: exchange-2016-cu23"),
                "\(command): \(result.stderr)")
        }
    }
}
