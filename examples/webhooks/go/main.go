// Verify a temporal-gateway completion webhook (Standard Webhooks) in Go, standard library only.
// Verify(body, header, secrets) returns nil for an authentic, fresh delivery; pass the raw
// body exactly as received, and both secrets while a rotation is under way.
//
// Tried by the tests as: WEBHOOK_SECRETS="whsec_… whsec_…" WEBHOOK_ID=… WEBHOOK_TIMESTAMP=…
// WEBHOOK_SIGNATURE=… go run . < body.json
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const tolerance = 5 * time.Minute

func Verify(body []byte, header http.Header, secrets []string) error {
	id := header.Get("webhook-id")
	stamp := header.Get("webhook-timestamp")
	signatures := header.Get("webhook-signature")
	if id == "" || stamp == "" || signatures == "" {
		return errors.New("missing webhook headers")
	}
	seconds, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return errors.New("bad webhook-timestamp")
	}
	if math.Abs(time.Since(time.Unix(seconds, 0)).Seconds()) > tolerance.Seconds() {
		return errors.New("webhook-timestamp outside the tolerance: refusing a replay")
	}
	signed := append([]byte(id+"."+stamp+"."), body...)
	for _, secret := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return fmt.Errorf("bad secret: %w", err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(signed)
		expected := mac.Sum(nil)
		for _, entry := range strings.Fields(signatures) {
			version, encoded, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" {
				continue
			}
			given, err := base64.StdEncoding.DecodeString(encoded)
			if err == nil && hmac.Equal(given, expected) {
				return nil
			}
		}
	}
	return errors.New("no signature matches")
}

func main() {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		panic(err)
	}
	header := http.Header{}
	header.Set("webhook-id", os.Getenv("WEBHOOK_ID"))
	header.Set("webhook-timestamp", os.Getenv("WEBHOOK_TIMESTAMP"))
	header.Set("webhook-signature", os.Getenv("WEBHOOK_SIGNATURE"))
	if err := Verify(body, header, strings.Fields(os.Getenv("WEBHOOK_SECRETS"))); err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	fmt.Println("verified", header.Get("webhook-id"))
}
