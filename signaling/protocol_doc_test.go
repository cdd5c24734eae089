package signaling

// PROTOCOL.md against the code: the message types, error codes, close codes and the
// numbers of the Limits table. Third-party clients are written from that page, so a
// type, code or bound that the code changes without it is a bug here.

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"conclave/e2ee"
)

// protocolTables are PROTOCOL.md's tables: for each, the section heading above it, its
// header cells, and its rows' cells (trimmed). A table ends at the first line that does
// not start with "|" (a blank line splits a table in two, and Markdown renders the rows
// after it as text, so the second half has no header here).
type docTable struct {
	section string
	header  []string
	rows    [][]string
}

func protocolTables(t *testing.T) []docTable {
	t.Helper()
	raw, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	var tables []docTable
	var cur *docTable
	section := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
		if !strings.HasPrefix(line, "|") {
			cur = nil
			continue
		}
		cells := splitRow(line)
		switch {
		case cur == nil:
			tables = append(tables, docTable{section: section, header: cells})
			cur = &tables[len(tables)-1]
		case strings.Trim(strings.Join(cells, ""), "-: ") == "":
			// the |---|---| line
		default:
			cur.rows = append(cur.rows, cells)
		}
	}
	return tables
}

// splitRow splits a table line into cells, keeping "\|" inside a cell.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	line = strings.ReplaceAll(line, `\|`, "\x00")
	var cells []string
	for _, c := range strings.Split(line, "|") {
		cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
	}
	return cells
}

var firstCode = regexp.MustCompile("^`([a-z0-9_]+)`")

// docFirstCells are the `names` opening the first cell of the rows of every table whose
// header starts with head, in sections whose heading starts with one of sections;
// a name listed twice is reported.
func docFirstCells(t *testing.T, tables []docTable, head string, sections ...string) []string {
	t.Helper()
	var out []string
	for _, tb := range tables {
		if len(tb.header) == 0 || tb.header[0] != head {
			continue
		}
		if !slices.ContainsFunc(sections, func(s string) bool { return strings.HasPrefix(tb.section, s) }) {
			continue
		}
		for _, r := range tb.rows {
			if m := firstCode.FindStringSubmatch(r[0]); m != nil {
				if slices.Contains(out, m[1]) {
					t.Errorf("PROTOCOL.md (%s): %q is listed twice", tb.section, m[1])
				}
				out = append(out, m[1])
			}
		}
	}
	return out
}

// packageConsts are the package's constants (not its tests') whose names start with
// prefix, by value as Go would print them.
func packageConsts(t *testing.T, prefix string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range pkgs {
		for _, f := range p.Files {
			files = append(files, f)
		}
	}
	// Type-check without importers: only the constants' values are wanted, and the
	// constants this looks at are literals.
	conf := types.Config{Importer: nil, Error: func(error) {}}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	_, _ = conf.Check("signaling", fset, files, info)
	out := map[string]string{}
	for id, obj := range info.Defs {
		c, ok := obj.(*types.Const)
		if !ok || !strings.HasPrefix(id.Name, prefix) || c.Parent() != c.Pkg().Scope() {
			continue
		}
		v := c.Val()
		switch v.Kind() {
		case constant.String:
			out[id.Name] = constant.StringVal(v)
		case constant.Int:
			out[id.Name] = v.ExactString()
		}
	}
	if len(out) == 0 {
		t.Fatalf("no constants %s* found", prefix)
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestProtocolListsEveryMessageType: the types in PROTOCOL.md's message tables are the
// types the server knows, each in the direction it goes, each once per direction.
func TestProtocolListsEveryMessageType(t *testing.T) {
	tables := protocolTables(t)
	client := docFirstCells(t, tables, "type", "Client → server", "Hands and reactions")
	server := docFirstCells(t, tables, "type", "Server → client")
	all := values(packageConsts(t, "Type"))
	for _, typ := range client {
		if !knownType(typ) {
			t.Errorf("PROTOCOL.md lists client message %q, which the server does not take (knownType)", typ)
		}
	}
	for _, typ := range all {
		if knownType(typ) && !slices.Contains(client, typ) {
			t.Errorf("the server takes %q, which PROTOCOL.md's client → server tables do not list", typ)
		}
		if !knownType(typ) && !slices.Contains(server, typ) {
			t.Errorf("the server sends %q, which PROTOCOL.md's server → client table does not list", typ)
		}
	}
	if d := diff(server, all); len(d) > 0 {
		t.Errorf("PROTOCOL.md's server → client table lists %v, which no Type constant names", d)
	}
	// The types both sides send appear in both tables.
	for _, typ := range []string{TypeChat, TypeE2EE, TypeReaction} {
		if !slices.Contains(server, typ) {
			t.Errorf("PROTOCOL.md's server → client table lacks %q", typ)
		}
	}
}

var closeIn = regexp.MustCompile(`code (\d{4})`)

// TestProtocolListsEveryErrorCode: the Errors table names exactly the error codes of
// errors.go, and says for each whether it closes the connection with the code the
// server uses (closeCodeFor).
func TestProtocolListsEveryErrorCode(t *testing.T) {
	tables := protocolTables(t)
	var rows [][]string
	for _, tb := range tables {
		if tb.section == "Errors" && len(tb.header) == 3 && tb.header[0] == "code" {
			rows = append(rows, tb.rows...)
		}
	}
	if len(rows) == 0 {
		t.Fatal(`PROTOCOL.md has no "| code | meaning | connection |" table under "## Errors"`)
	}
	var documented []string
	for _, r := range rows {
		m := firstCode.FindStringSubmatch(r[0])
		if m == nil || len(r) < 3 {
			t.Errorf("PROTOCOL.md Errors: cannot read row %q", r)
			continue
		}
		code := m[1]
		documented = append(documented, code)
		want := closeCodeFor(Code(code))
		conn := r[2]
		switch {
		case strings.HasPrefix(conn, "stays open"):
			if want != 0 {
				t.Errorf("PROTOCOL.md: %s stays open, but the server closes with %d", code, want)
			}
		default:
			m := closeIn.FindStringSubmatch(conn)
			if m == nil {
				t.Errorf("PROTOCOL.md: %s: connection column %q names no close code", code, conn)
			} else if got, _ := strconv.Atoi(m[1]); got != want {
				t.Errorf("PROTOCOL.md: %s closes with %d, the server with %d", code, got, want)
			}
		}
	}
	codes := values(packageConsts(t, "Code"))
	if d := diff(codes, documented); len(d) > 0 {
		t.Errorf("error codes the server has and PROTOCOL.md does not list: %v", d)
	}
	if d := diff(documented, codes); len(d) > 0 {
		t.Errorf("PROTOCOL.md lists error codes the server does not have: %v", d)
	}
}

// TestProtocolListsEveryCloseCode: the close-code table names exactly the codes of
// errors.go's Close constants.
func TestProtocolListsEveryCloseCode(t *testing.T) {
	var documented []string
	for _, tb := range protocolTables(t) {
		if tb.section == "Close codes" {
			for _, r := range tb.rows {
				documented = append(documented, r[0])
			}
		}
	}
	codes := values(packageConsts(t, "Close"))
	if d := diff(codes, documented); len(d) > 0 {
		t.Errorf("close codes the server uses and PROTOCOL.md does not list: %v", d)
	}
	if d := diff(documented, codes); len(d) > 0 {
		t.Errorf("PROTOCOL.md lists close codes the server does not use: %v", d)
	}
}

// TestProtocolLimitsMatchTheCode: each row of PROTOCOL.md's Limits table that states a
// number the code holds as a constant states that constant's value. A row renamed in
// the page fails here until this list follows it.
func TestProtocolLimitsMatchTheCode(t *testing.T) {
	rows := map[string]string{}
	for _, tb := range protocolTables(t) {
		if tb.section == "Limits" && len(tb.header) == 3 && tb.header[0] == "limit" {
			for _, r := range tb.rows {
				rows[r[0]] = r[1]
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal(`PROTOCOL.md has no "| limit | value | beyond it |" table under "## Limits"`)
	}
	secs := func(d interface{ Seconds() float64 }) string {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
	}
	batchLimit := 1024 + (DefaultMaxParticipants-1)*(maxIDBytes+32+2*e2ee.MaxBatchShare)
	checks := []struct{ row, want string }{
		{"message size", fmt.Sprintf("%d KiB", MaxMessageBytes>>10)},
		{"message size", fmt.Sprintf("× %d bytes", maxIDBytes+32+2*e2ee.MaxBatchShare)},
		{"message size", fmt.Sprintf("(%s for %d)", thousands(batchLimit), DefaultMaxParticipants)},
		{"time from a message's first frame to its last", secs(messageTimeout)},
		{"time from the websocket opening to an accepted `join`", secs(DefaultJoinTimeout)},
		{"outgoing queue per connection", fmt.Sprintf("%d messages", sendQueueLen)},
		{"ping / pong", "ping every " + secs(pingInterval)},
		{"ping / pong", "within " + secs(pongWait)},
		{"websockets per client address (IPv6: per /64)", strconv.Itoa(DefaultMaxConnsPerAddr)},
		{"websockets in all", thousands(DefaultMaxConns)},
		{"envelope `id`", fmt.Sprintf("%d bytes", maxIDBytes)},
		{"`name` in `join`", fmt.Sprintf("1–%d characters", MaxNameChars)},
		{"chat `text`", fmt.Sprintf("1–%d characters", maxChatWireChars)},
		{"chat `text`", fmt.Sprintf("type %d", MaxChatChars)},
		{"`knock_proof`", fmt.Sprintf("at most %d sealed", MaxKnockNames)},
		{"`lobby_key` per moderator", fmt.Sprintf("%d at once, one every %s", lobbyKeyBurst, secs(secondsOf(1/lobbyKeyRate)))},
		{"tracks in one `publish_offer`", fmt.Sprintf("%d entries in `tracks`", maxTracks)},
		{"tracks in one `publish_offer`", fmt.Sprintf("`mid` 1 to %d characters", maxMidChars)},
		{"`publish_offer` per member", fmt.Sprintf("%d at once, %d a second", publishOfferBurst, publishOfferRate)},
		{"`ice` per member", fmt.Sprintf("%d at once, %d a second", iceBurst, iceRate)},
		{"ICE candidate string", fmt.Sprintf("%d bytes", maxCandidate)},
		{"`e2ee` `data`", fmt.Sprintf("%d KiB", e2ee.MaxEnvelope>>10)},
		{"envelopes in one `e2ee_batch`", fmt.Sprintf("%d bytes per envelope", e2ee.MaxBatchShare)},
		{"`chat`, `media_state`, `update_settings` and `raise_hand` per member", fmt.Sprintf("%d at once, %d a second", fanoutBurst, fanoutRate)},
		{"new passwords (`update_settings` `password`, not `\"\"`) per meeting, whichever moderators send them", fmt.Sprintf("%d at once, one every %s", passwordChangeBurst, secs(secondsOf(1/passwordChangeRate)))},
		{"`reaction` per member", fmt.Sprintf("%d at once, %d a second", reactionBurst, reactionRate)},
		{"`view` per member", fmt.Sprintf("%d at once, %d a second", viewBurst, viewRate)},
		{"entries in one `view`", fmt.Sprintf("%d, each", MaxViewTracks)},
		{"`ping` per connection, in every state", fmt.Sprintf("%d at once, one every %s", pingBurst, secs(secondsOf(1/pingRate)))},
		{"`ping` per connection, in every state", fmt.Sprintf("`n` 0–%d, payload %d bytes", maxPingNumber, maxPingPayload)},
		{"entries in one `view`", fmt.Sprintf("1–%d", MaxTileSide)},
		{"entries in one `view`", fmt.Sprintf("`participantId` %d bytes", maxIDBytes)},
		{"refused messages in a row", strconv.Itoa(maxErrorsInRow)},
		{"members per meeting", fmt.Sprintf("%d (`-max-participants`)", DefaultMaxParticipants)},
		{"people waiting in one meeting's waiting room", fmt.Sprintf("%d from one address", DefaultMaxWaitingPerAddr)},
		{"`waiting_list` to one moderator's connection", fmt.Sprintf("%d MiB at once, %d KiB a second", waitingListBurst>>20, waitingListRate>>10)},
		{"`POST /api/meetings` body", fmt.Sprintf("%d bytes", maxMeetingBody)},
		{"rooms per host (one-off rooms included until they expire)", strconv.Itoa(maxRoomsPerHost)},
		{"room ids a host makes (rooms, one-off rooms, rotated links): every id a room had stays retired, so a withdrawn link is never taken over", fmt.Sprintf("%d at once, then one every %s", newIDBurst, secs(secondsOf(1/newIDRate)))},
		{"rooms API request body", fmt.Sprintf("%d KiB", maxRoomBody>>10)},
		{"room `title`", fmt.Sprintf("%d characters", maxTitleChars)},
		{"time a dropped member may take to `resume`", secs(DefaultResumeGrace)},
		{"resumes of one membership", fmt.Sprintf("%d at once, then one every %s", resumeBurst, secs(secondsOf(1/resumeRate)))},
		{"knocks (`join`s that reach the waiting room or the meeting) from one address (IPv6: one /64), across meetings", "one every " + secs(secondsOf(1/knockRate))},
	}
	for _, c := range checks {
		v, ok := rows[c.row]
		if !ok {
			t.Errorf("PROTOCOL.md's Limits table has no row %q", c.row)
			continue
		}
		if !strings.Contains(v, c.want) {
			t.Errorf("PROTOCOL.md Limits, %q: %q does not say %q", c.row, v, c.want)
		}
	}
	if v, want := rows["live meetings per server"], strconv.Itoa(DefaultMaxMeetings); v != want {
		t.Errorf("PROTOCOL.md Limits, live meetings per server: %q, the server's default is %s", v, want)
	}
}

type secondsOf float64

func (s secondsOf) Seconds() float64 { return float64(s) }

// thousands writes n as the page does: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestProtocolJoinE2EEVersion: the join table and the prose name the format number the
// server requires (E2EEVersion); the table said 2 while the server took only 5.
func TestProtocolJoinE2EEVersion(t *testing.T) {
	raw, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, want := range []string{
		fmt.Sprintf("`e2ee` (number, `%d`; see below)", E2EEVersion),
		fmt.Sprintf("the end-to-end encryption format the page speaks, `%d` for", E2EEVersion),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("PROTOCOL.md does not say %q", want)
		}
	}
}

// TestProtocolHeartbeat: the transport section, the client table and the error table
// state the heartbeat's bounds as the code holds them, and the states that take it.
func TestProtocolHeartbeat(t *testing.T) {
	raw, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(raw)), " ")
	every := fmt.Sprintf("one every %.0f s", 1/pingRate)
	for _, want := range []string{
		fmt.Sprintf("(%d at once, then %s; `rate_limited` beyond", pingBurst, every),
		fmt.Sprintf("`n` must be an integer from 0 to %d", maxPingNumber),
		fmt.Sprintf("the payload at most %d bytes", maxPingPayload),
		fmt.Sprintf("| `ping` | connected, lobby, joined | `n` (integer, 0–%d,", maxPingNumber),
		fmt.Sprintf("payload at most %d bytes |", maxPingPayload),
		fmt.Sprintf("more than %d `ping` in a burst or %s;", pingBurst, every),
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("PROTOCOL.md does not say %q", want)
		}
	}
}
