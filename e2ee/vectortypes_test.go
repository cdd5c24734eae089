package e2ee

// The shape of testdata/vectors.json (e2ee/FORMAT.md's test vectors): one type for each
// kind of vector, byte strings as unpadded base64url.

import (
	"encoding/base64"
	"encoding/json"
)

// bin is a byte string, unpadded base64url in JSON.
type bin []byte

func (b bin) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *bin) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.Strict().DecodeString(s)
	*b = v
	return err
}

type vectors struct {
	Format     string           `json:"format"`
	Meeting    meetingVector    `json:"meeting"`
	Identities []identityVector `json:"identities"`
	Pairwise   []pairVector     `json:"pairwise"`
	Wraps      []wrapVector     `json:"wraps"`
	BadWraps   []badWrapVector  `json:"badWraps"`
	Ratchet    []ratchetStep    `json:"ratchet"`
	Frames     []frameVector    `json:"frames"`
	BadFrames  []badFrame       `json:"badFrames"`
	RingCases  []ringCase       `json:"ringCases"`
	RingDrops  []ringDropCase   `json:"ringDrops"`
	KeyCases   []keyCase        `json:"keyCases"`
	Texts      []textVector     `json:"texts"`
	BadTexts   []badText        `json:"badTexts"`
}

type meetingVector struct {
	Secret      bin `json:"secret"`
	IdentityKey bin `json:"identityKey"`
	ChatKey     bin `json:"chatKey"`
}

type identityVector struct {
	ParticipantID string `json:"participantId"`
	PrivateKey    bin    `json:"privateKey"`
	PublicKey     bin    `json:"publicKey"`
	Tag           bin    `json:"tag"` // under meeting.identityKey
}

// pairVector: identities[0]'s private key with identities[1]'s public key,
// under the ids given here (they need not be the identities' ids).
type pairVector struct {
	IDA     string `json:"idA"`
	IDB     string `json:"idB"`
	Shared  bin    `json:"shared"`
	WrapKey bin    `json:"wrapKey"`
}

type wrapVector struct {
	WrapKey     bin    `json:"wrapKey"`
	SenderID    string `json:"senderId"`
	RecipientID string `json:"recipientId"`
	Counter     uint64 `json:"counter"`  // the key's counter (at most 2^53 − 1)
	Past        bool   `json:"past"`     // given as a past key
	KeyIndex    byte   `json:"keyIndex"` // counter mod 256
	RawKey      bin    `json:"rawKey"`
	Name        string `json:"name"` // the sender's display name carried in the envelope
	IV          bin    `json:"iv"`
	AAD         bin    `json:"aad"`       // "conclave/v3 media-key" 0 senderId 0 recipientId
	Plaintext   bin    `json:"plaintext"` // counter || past || rawKey || utf8(name)
	Wrapped     bin    `json:"wrapped"`
}

// keyCase: a receiver holds, from one sender's verified identity, the newest key
// `current` at counter `newest` (-1: none yet); the envelope brings `rawKey` at
// `counter` (marked `past` or not), and `seen` says whether that raw key came from
// this sender before in the session. `verdict` is JudgeKey's (FORMAT.md, "The
// newest key"): newest, again, past, stale, replay or conflict.
type keyCase struct {
	Name    string `json:"name"`
	Newest  int64  `json:"newest"`
	Current bin    `json:"current"`
	Counter uint64 `json:"counter"`
	Past    bool   `json:"past"`
	RawKey  bin    `json:"rawKey"`
	Seen    bool   `json:"seen"`
	Verdict string `json:"verdict"`
}

type badWrapVector struct {
	Name        string `json:"name"`
	WrapKey     bin    `json:"wrapKey"`
	SenderID    string `json:"senderId"`
	RecipientID string `json:"recipientId"`
	Wrapped     bin    `json:"wrapped"`
	Error       string `json:"error"`
}

type ratchetStep struct {
	KeyIndex byte `json:"keyIndex"`
	RawKey   bin  `json:"rawKey"`
	FrameKey bin  `json:"frameKey"`
}

type frameVector struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Source     Source `json:"source"`
	SenderID   string `json:"senderId"`
	KeyIndex   byte   `json:"keyIndex"`
	RawKey     bin    `json:"rawKey"`
	FrameKey   bin    `json:"frameKey"`
	IV         bin    `json:"iv"`
	Plaintext  bin    `json:"plaintext"`
	ClearBytes int    `json:"clearBytes"`
	AAD        bin    `json:"aad"` // "conclave/v3 frame" 0 senderId 0 kind 0 source 0 keyIndex clear
	Encrypted  bin    `json:"encrypted"`
}

// badFrame: the receiver's ring holds only rawKey at keyIndex, and it takes
// the frame to be senderId's.
type badFrame struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Source   Source `json:"source"`
	SenderID string `json:"senderId"`
	KeyIndex byte   `json:"keyIndex"`
	RawKey   bin    `json:"rawKey"`
	Frame    bin    `json:"frame"`
	Error    string `json:"error"`
}

// ringCase: a receiver's ring holds only rawKey at keyIndex (current) and
// takes the frame to be senderId's; result is "ok" (the frame opens, through
// the ratchet where the index is ahead) or the error code.
type ringCase struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Source    Source `json:"source"`
	SenderID  string `json:"senderId"`
	KeyIndex  byte   `json:"keyIndex"`
	RawKey    bin    `json:"rawKey"`
	Frame     bin    `json:"frame"`
	Result    string `json:"result"`
	Plaintext bin    `json:"plaintext,omitempty"`
}

// ringDropCase: one sender's ring at a receiver, empty at first, taken through steps
// in order. A step is either "set" (a key the sender's envelope makes its newest:
// rawKey at counter, index counter mod 256) or "frame" (the frame taken to be
// senderId's, with result "ok" and its plaintext or the error code); after it the
// ring's current index is current and it holds keys at exactly the indexes in held
// (ascending). The cases check the rule of FORMAT.md, "Media keys and the ratchet": a
// key set drops the keys held for a higher counter, a ratchet guess's counter being
// the counter of the key it came from plus the steps.
type ringDropCase struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Source   Source     `json:"source"`
	SenderID string     `json:"senderId"`
	Steps    []ringStep `json:"steps"`
}

type ringStep struct {
	Op        string `json:"op"` // "set" or "frame"
	Counter   uint64 `json:"counter,omitempty"`
	RawKey    bin    `json:"rawKey,omitempty"`
	Frame     bin    `json:"frame,omitempty"`
	Result    string `json:"result,omitempty"`
	Plaintext bin    `json:"plaintext,omitempty"`
	Current   byte   `json:"current"`
	Held      []int  `json:"held"`
}

type textVector struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	SenderID  string `json:"senderId"`
	ChatKey   bin    `json:"chatKey"`
	IV        bin    `json:"iv"`
	Text      string `json:"text"`
	Encrypted string `json:"encrypted"`
}

type badText struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	SenderID  string `json:"senderId"`
	ChatKey   bin    `json:"chatKey"`
	Encrypted string `json:"encrypted"`
	Error     string `json:"error"`
}
