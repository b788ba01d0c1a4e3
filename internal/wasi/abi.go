package wasi

// Errno is a WASI preview1 error number.
type Errno uint16

// The errno values crowdrun's host returns. Numbering follows wasi_snapshot_preview1.
const (
	ErrnoSuccess     Errno = 0
	Errno2Big        Errno = 1
	ErrnoAcces       Errno = 2
	ErrnoBadf        Errno = 8
	ErrnoExist       Errno = 20
	ErrnoFault       Errno = 21
	ErrnoInval       Errno = 28
	ErrnoIO          Errno = 29
	ErrnoIsdir       Errno = 31
	ErrnoMfile       Errno = 33
	ErrnoNametoolong Errno = 37
	ErrnoNoent       Errno = 44
	ErrnoNosys       Errno = 52
	ErrnoNotdir      Errno = 54
	ErrnoNotsup      Errno = 58
	ErrnoPerm        Errno = 63
	ErrnoRofs        Errno = 69
	ErrnoSpipe       Errno = 70
	ErrnoNotcapable  Errno = 76
)

// File types.
const (
	filetypeUnknown   = 0
	filetypeCharDev   = 2
	filetypeDirectory = 3
	filetypeRegular   = 4
)

// Clock ids.
const (
	clockRealtime         = 0
	clockMonotonic        = 1
	clockProcessCPUTime   = 2
	clockThreadCPUTime    = 3
	subscriptionClockAbst = 1
)

// path_open oflags.
const (
	oflagCreat     = 1
	oflagDirectory = 2
	oflagExcl      = 4
	oflagTrunc     = 8
)

// fdflags.
const fdflagAppend = 1

// Rights bits.
const (
	rightFdDatasync        = 1 << 0
	rightFdRead            = 1 << 1
	rightFdSeek            = 1 << 2
	rightFdFdstatSetFlags  = 1 << 3
	rightFdSync            = 1 << 4
	rightFdTell            = 1 << 5
	rightFdWrite           = 1 << 6
	rightFdAdvise          = 1 << 7
	rightFdAllocate        = 1 << 8
	rightPathOpen          = 1 << 13
	rightFdReaddir         = 1 << 14
	rightPathFilestatGet   = 1 << 18
	rightFdFilestatGet     = 1 << 21
	rightFdFilestatSetSize = 1 << 22
	rightPollFdReadwrite   = 1 << 27

	// writeRights are the rights that imply modifying a file; asking for any of
	// them on path_open is refused with EROFS.
	writeRights = rightFdDatasync | rightFdWrite | rightFdAllocate | rightFdFilestatSetSize

	fileRights   = rightFdRead | rightFdSeek | rightFdTell | rightFdAdvise | rightFdFilestatGet | rightPollFdReadwrite
	dirRights    = rightPathOpen | rightFdReaddir | rightPathFilestatGet | rightFdFilestatGet
	stdinRights  = rightFdRead | rightFdFilestatGet | rightPollFdReadwrite
	stdoutRights = rightFdWrite | rightFdFilestatGet | rightPollFdReadwrite
)

// Event types of poll_oneoff.
const (
	eventClock   = 0
	eventFdRead  = 1
	eventFdWrite = 2
)
