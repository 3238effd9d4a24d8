package edgesync

// Test-only access to the snapshot file helpers.
var (
	WriteSnapshotFile = writeSnapshotFile
	ReadSnapshotFile  = readSnapshotFile
)
