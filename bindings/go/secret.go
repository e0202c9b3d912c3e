package sigmaauth

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[redacted]"

// Secret holds a client secret or a token. Every text form of it is
// "[redacted]": fmt's verbs (%v, %+v, %#v, %s, %q, %x, ...), JSON and text
// marshalling, and slog. That holds even inside an unexported struct field,
// where fmt cannot call methods: the text sits behind a pointer, and fmt
// prints a nested pointer as an address. Reveal returns the text itself.
type Secret struct {
	text *string
}

// NewSecret wraps s.
func NewSecret(s string) Secret {
	return Secret{text: &s}
}

// Reveal returns the secret itself, for putting it where it belongs.
func (s Secret) Reveal() string {
	if s.text == nil {
		return ""
	}
	return *s.text
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

func (Secret) String() string                 { return redacted }
func (Secret) GoString() string               { return redacted }
func (Secret) Format(f fmt.State, _ rune)     { _, _ = io.WriteString(f, redacted) }
func (Secret) MarshalJSON() ([]byte, error)   { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error)   { return []byte(redacted), nil }
func (Secret) LogValue() slog.Value           { return slog.StringValue(redacted) }
func (Secret) MarshalBinary() ([]byte, error) { return []byte(redacted), nil }
