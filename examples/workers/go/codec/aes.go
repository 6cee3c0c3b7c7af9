// Package codec is the AES-256-GCM payload codec shared by the Go worker, the codec server,
// the TypeScript and Java workers and the Python module in examples/codec: all five must
// produce and accept the same bytes, so the format is fixed here and nowhere else is it
// negotiated.
//
// Format of an encoded payload:
//
//	metadata: {"encoding": "binary/encrypted", "encryption-key-id": <key id>}
//	data:     nonce (12 random bytes) || AES-256-GCM Seal(proto.Marshal(original payload))
//
// No associated data. The key id is the first 16 hex characters of SHA-256(key), so a reader
// can tell which key sealed a payload without the key itself being named anywhere.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks a payload this codec sealed; anything else passes through Decode.
	Encoding = "binary/encrypted"
	// KeyIDMetadata names the key that sealed the payload.
	KeyIDMetadata = "encryption-key-id"
	nonceSize     = 12
)

// AESCodec encrypts whole payloads (metadata included: the encoding of the original value
// is as private as its data).
type AESCodec struct {
	keyID string
	aead  cipher.AEAD
}

var _ converter.PayloadCodec = (*AESCodec)(nil)

// KeyID is the id written next to each payload: 16 hex characters of SHA-256(key).
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])[:16]
}

// New builds the codec for a 32-byte key.
func New(key []byte) (*AESCodec, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("AES-256 needs a 32-byte key, got %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &AESCodec{keyID: KeyID(key), aead: aead}, nil
}

// LoadKeyFile reads a key file: 64 hex characters, surrounding whitespace ignored.
func LoadKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: not hex: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%s: want 64 hex characters (32 bytes), got %d bytes", path, len(key))
	}
	return key, nil
}

// FromKeyFile is LoadKeyFile then New.
func FromKeyFile(path string) (*AESCodec, error) {
	key, err := LoadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return New(key)
}

// KeyID is the id of this codec's key.
func (c *AESCodec) KeyID() string { return c.keyID }

// Encode seals every payload.
func (c *AESCodec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		// Deterministic: map entries (the metadata) sorted by key, as the Python and TypeScript
		// codecs do, so one payload always has one plaintext.
		plain, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, nonceSize, nonceSize+len(plain)+c.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				KeyIDMetadata:              []byte(c.keyID),
			},
			Data: c.aead.Seal(nonce, nonce, plain, nil),
		}
	}
	return out, nil
}

// Decode opens the payloads this codec sealed and passes any other through unchanged, so a
// reader with the key also reads what was written without it.
func (c *AESCodec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		if id := string(p.GetMetadata()[KeyIDMetadata]); id != c.keyID {
			return nil, fmt.Errorf("payload sealed with unknown key id %q (this codec has %q)", id, c.keyID)
		}
		if len(p.GetData()) < nonceSize+c.aead.Overhead() {
			return nil, fmt.Errorf("encrypted payload too short (%d bytes)", len(p.GetData()))
		}
		nonce, sealed := p.GetData()[:nonceSize], p.GetData()[nonceSize:]
		plain, err := c.aead.Open(nil, nonce, sealed, nil)
		if err != nil {
			return nil, fmt.Errorf("decrypting payload: %w", err)
		}
		inner := &commonpb.Payload{}
		if err := proto.Unmarshal(plain, inner); err != nil {
			return nil, fmt.Errorf("decrypted payload is not a Payload: %w", err)
		}
		out[i] = inner
	}
	return out, nil
}
