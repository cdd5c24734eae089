package turn

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Credentials are REST-API style (draft-uberti-behave-turn-rest): the username is
// "<expiry unix seconds>:<random>", the password is base64(HMAC-SHA256(secret, username)).
// The server keeps no list of what it handed out: it recomputes the password from the
// username, so a credential is valid exactly until its expiry, and every credential dies
// with the process (the secret is made at start and never leaves memory).
type credentials struct {
	secret []byte
	ttl    time.Duration
}

// Errors of a username the server did not make (or made long ago).
var (
	ErrBadUsername = errors.New("turn: username is not <expiry>:<random>")
	ErrExpired     = errors.New("turn: credentials expired")
)

// maxUsernameLen bounds what parseUsername looks at: an expiry (at most 20 digits), a
// colon and the random part (22 characters).
const maxUsernameLen = 64

func newCredentials(ttl time.Duration) (credentials, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return credentials{}, err
	}
	return credentials{secret: secret, ttl: ttl}, nil
}

// issue makes a fresh username and password valid until now+ttl.
func (c credentials) issue(now time.Time) (username, password string) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go 1.24+)
	username = strconv.FormatInt(now.Add(c.ttl).Unix(), 10) + ":" + base64.RawURLEncoding.EncodeToString(nonce[:])
	return username, c.password(username)
}

func (c credentials) password(username string) string {
	mac := hmac.New(sha256.New, c.secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// check returns the password of username when it is well formed and not expired at
// now. A forged username yields a password the client cannot know, so its request
// fails the MESSAGE-INTEGRITY check.
func (c credentials) check(username string, now time.Time) (string, error) {
	expiry, err := parseUsername(username)
	if err != nil {
		return "", err
	}
	if !now.Before(time.Unix(expiry, 0)) {
		return "", ErrExpired
	}
	return c.password(username), nil
}

// parseUsername reads the expiry of "<expiry>:<random>". It is network input: the
// username of every TURN request.
func parseUsername(username string) (int64, error) {
	if len(username) > maxUsernameLen {
		return 0, ErrBadUsername
	}
	ts, rest, ok := strings.Cut(username, ":")
	if !ok || rest == "" || ts == "" || len(ts) > 19 {
		return 0, ErrBadUsername
	}
	for _, r := range ts {
		if r < '0' || r > '9' {
			return 0, ErrBadUsername
		}
	}
	expiry, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, ErrBadUsername
	}
	return expiry, nil
}
