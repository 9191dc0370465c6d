extension String {
    /// Windows host names compare case-insensitively: `node1` and `NODE1` are one machine.
    public func sameHostName(as other: String) -> Bool {
        lowercased() == other.lowercased()
    }
}
