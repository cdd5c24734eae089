package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"conclave/secret"
	"conclave/signaling"
	"conclave/web"
)

// noticeOptions are the operator's settings for the privacy notice (GDPR Art. 13).
type noticeOptions struct {
	orgName, orgContact, dpoContact string
	privacyURL, privacyFile         string
	imprintURL                      string
}

// noticeFlags are the notice's flags: flag name, environment variable, help.
func (n *noticeOptions) register(fs *flag.FlagSet) {
	for _, f := range []struct {
		dst       *string
		name, env string
		help      string
	}{
		{&n.orgName, "org-name", "CONCLAVE_ORG_NAME", "the organisation that runs this server, shown in the privacy notice"},
		{&n.orgContact, "org-contact", "CONCLAVE_ORG_CONTACT", "how to reach the organisation (address, e-mail or phone), shown in the privacy notice"},
		{&n.dpoContact, "dpo-contact", "CONCLAVE_DPO_CONTACT", "how to reach the data-protection officer or contact, shown in the privacy notice"},
		{&n.privacyURL, "privacy-url", "CONCLAVE_PRIVACY_URL", "an http(s) URL of the organisation's privacy notice, linked from the web client"},
		{&n.privacyFile, "privacy-file", "CONCLAVE_PRIVACY_FILE", "a UTF-8 text or Markdown file (at most 64 KiB) whose text the web client shows as the privacy notice, as plain text"},
		{&n.imprintURL, "imprint-url", "CONCLAVE_IMPRINT_URL", "an http(s) URL of the organisation's imprint, linked from the web client"},
	} {
		fs.StringVar(f.dst, f.name, "", f.help)
	}
}

// noticeFlag maps a web.NoticeError's field to the flag that sets it.
var noticeFlag = map[string]string{
	"Organisation": "-org-name", "Contact": "-org-contact", "DataProtectionContact": "-dpo-contact",
	"PrivacyURL": "-privacy-url", "PrivacyText": "-privacy-file", "ImprintURL": "-imprint-url",
}

// buildNotice makes the web client's notice: the operator's settings, the privacy file's
// text, and the built-in description of what this server processes. A bad setting is
// an error naming its flag; nothing starts then.
func buildNotice(n noticeOptions, facts processingFacts) (web.Notice, error) {
	notice := web.Notice{
		Organisation:          strings.TrimSpace(n.orgName),
		Contact:               strings.TrimSpace(n.orgContact),
		DataProtectionContact: strings.TrimSpace(n.dpoContact),
		PrivacyURL:            strings.TrimSpace(n.privacyURL),
		ImprintURL:            strings.TrimSpace(n.imprintURL),
		Processing:            facts.items(),
	}
	if n.privacyFile != "" {
		text, err := readPrivacyFile(n.privacyFile)
		if err != nil {
			return web.Notice{}, fmt.Errorf("-privacy-file: %w", err)
		}
		notice.PrivacyText = text
	}
	if err := notice.Validate(); err != nil {
		if ne, ok := errors.AsType[*web.NoticeError](err); ok {
			return web.Notice{}, fmt.Errorf("%s %s", noticeFlag[ne.Field], ne.Reason)
		}
		return web.Notice{}, err
	}
	return notice, nil
}

// readPrivacyFile reads at most one byte more than the web client takes, so that an
// oversized file is refused rather than cut.
func readPrivacyFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, web.MaxPrivacyTextBytes+1))
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(strings.ReplaceAll(string(b), "\r\n", "\n"))
	if text == "" {
		return "", errors.New("the file is empty")
	}
	return text, nil
}

// processingFacts is what the built-in notice describes, from this server's settings.
// The privacy report (report.go) quotes the same items, so the notice participants read
// and the record the operator keeps say the same thing.
type processingFacts struct {
	knockTimeout time.Duration
	emptyGrace   time.Duration
	knockMemory  time.Duration // how long a knock's address is kept (signaling.KnockMemory)
	logLevel     slog.Level
	memoryOnly   bool // -data "": nothing is written to disk
	speakers     bool // -speaker-detection
}

// factsFor are the facts of the effective configuration.
func factsFor(o options) processingFacts {
	var level slog.Level
	_ = level.UnmarshalText([]byte(o.logLevel)) // checked by parseOptions
	return processingFacts{knockTimeout: o.knockTimeout, emptyGrace: signaling.DefaultEmptyMeetingGrace, knockMemory: signaling.KnockMemory(o.limits.maxConnsPerAddr),
		logLevel: level, memoryOnly: o.data == "", speakers: o.speakers}
}

// The titles of the built-in notice's items, by which the privacy report finds them.
const (
	factProcessed = "What is processed"
	factE2EE      = "End-to-end encryption"
	factHowLong   = "How long"
	factRecording = "Recording"
	factAccounts  = "Accounts"
	factStored    = "What is stored"
	factLogs      = "Logs"
	factServices  = "Other services"
	factSpeakers  = "Who speaks"
)

// items describes, truthfully for this configuration, what the server processes and
// for how long. Keep it in step with what the code does (and with PROTOCOL.md).
func (f processingFacts) items() []web.NoticeItem {
	logs, logsFact := "The server's log contains no names, addresses, meeting ids, chat or keys: only events such as a meeting being created and counts.", "logs"
	if f.logLevel <= slog.LevelDebug {
		logs, logsFact = "This server logs at the debug level: its log may contain IP addresses and participant ids (never names, chat or keys).", "logs-debug"
	}
	stored, storedFact := "On disk, only the hosts (names and key hashes) and the rooms hosts prepare: a room's id, its host, its title as ciphertext the server cannot read, its settings, hashes of its password and moderator link, and when it expires; an expired room is deleted, only its id is kept, so that its links never work again. What happens in a meeting lives in memory and is gone when the meeting ends. Nothing about participants is written to disk.", "stored"
	if f.memoryOnly {
		stored, storedFact = "Nothing about people or meetings is written to disk: the hosts (names and key hashes) and the rooms hosts prepare (id, host, title as ciphertext the server cannot read, settings, hashes of password and moderator link, expiry) are kept in memory only and are gone when the server stops.", "stored-memory"
	}
	speakers, speakersFact := "To show who is speaking, the server reads how loud each participant's microphone is, from a level your browser sends with the audio for this purpose (never the audio itself, which may be end-to-end encrypted). So the server learns who speaks when. It keeps this in memory for the running meeting only, tells the participants of that meeting, and never logs or stores it.", "speakers"
	if !f.speakers {
		speakers, speakersFact = "The server does not learn who speaks: speaker detection is turned off on this server, so browsers do not send it the level of their audio.", "speakers-off"
	}
	return []web.NoticeItem{
		item(factProcessed, "processed", "The name you type, your camera, microphone and screen as you share them, chat messages, and your IP address (needed to connect, and to slow down guessed passwords)."),
		item(factE2EE, "e2ee", "Meetings are end-to-end encrypted unless their host turned it off (the meeting page says which): audio, video, chat and display names are encrypted in the participants' browsers, and the server forwards them without being able to read them."),
		withSeconds(item(factHowLong, "how-long", fmt.Sprintf("Only while the meeting lasts, in the server's memory. A meeting ends when a moderator ends it, %s after the last person left, or 10 minutes after it was made if nobody joined; a request to join waits at most %s. Counters of wrong passwords, moderator links and host keys per address (naming the room or meeting a guess was for) stay in memory for up to %s after the last wrong one; to slow down floods of requests to join, the address of a request is kept for at most %s.", friendly(f.emptyGrace), friendly(f.knockTimeout), friendly(secret.ForgetAfter), friendly(f.knockMemory))),
			map[string]int64{"emptyGrace": wholeSeconds(f.emptyGrace), "knockTimeout": wholeSeconds(f.knockTimeout), "forgetAfter": wholeSeconds(secret.ForgetAfter), "knockMemory": wholeSeconds(f.knockMemory)}),
		item(factRecording, "recording", "Nothing is recorded: not audio, video, screen or chat."),
		item(factAccounts, "accounts", "Participants need no account. Hosts who may create meetings have a host key; the server keeps only a keyed hash of it and the host's name."),
		item(factSpeakers, speakersFact, speakers),
		item(factStored, storedFact, stored),
		item(factLogs, logsFact, logs),
		item(factServices, "services", "None. The web client loads nothing from any other server, and the server sends nothing about meetings anywhere. Your browser itself may contact its maker's services (updates, safe browsing), outside this server's control."),
	}
}

// fact is the text of the built-in notice's item with the given title.
func (f processingFacts) fact(title string) string {
	for _, it := range f.items() {
		if it.Title == title {
			return it.Text
		}
	}
	return "" // not reached: every title above has an item (TestReportQuotesTheNotice)
}

// item is one item of the built-in notice; fact names it for the web client's catalogue
// ("notice.fact.<fact>.*" in web/static/i18n), which shows it in the reader's language.
func item(title, fact, text string) web.NoticeItem {
	return web.NoticeItem{Title: title, Text: text, Fact: fact}
}

// withSeconds adds the durations the catalogue's text of it.Fact names.
func withSeconds(it web.NoticeItem, s map[string]int64) web.NoticeItem {
	it.Seconds = s
	return it
}

// wholeSeconds rounds d up to whole seconds.
func wholeSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// friendly writes a duration as people say it: "1 minute", "15 minutes", "90 seconds".
func friendly(d time.Duration) string {
	switch {
	case d <= 0:
		return "at once"
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	default:
		return plural(int((d+time.Second-1)/time.Second), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
