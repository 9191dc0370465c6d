import ArgumentParser
import BatonModel

/// `--package ID`: an id as typed, compared without regard to case.
extension PackageID: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}
