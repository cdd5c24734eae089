package signaling

import "log/slog"

func testDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
