// Verify a temporal-gateway completion webhook (Standard Webhooks) in Go, standard library only.
// Verify(body, header, secrets, route) returns nil for an authentic, fresh delivery of route;
// pass the raw body exactly as received, both secrets while a rotation is under way, and the
// route whose deliveries this receiver takes: the signed body names it (data.route), so a
// delivery another route's caller aimed here is refused even if both routes share a secret.
//
// Tried by the tests as: WEBHOOK_SECRETS="whsec_… whsec_…" WEBHOOK_ID=… WEBHOOK_TIMESTAMP=…
// WEBHOOK_SIGNATURE=… WEBHOOK_ROUTE=orders go run . < body.json
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

func Verify(body []byte, header http.Header, secrets []string, route string) error {
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
				return forRoute(body, route)
			}
		}
	}
	return errors.New("no signature matches")
}

// forRoute checks that the (authentic) delivery names route in data.route.
func forRoute(body []byte, route string) error {
	var event struct {
		Data struct {
			Route string `json:"route"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		return fmt.Errorf("bad body: %w", err)
	}
	if event.Data.Route != route {
		return fmt.Errorf("the delivery is for route %q, not %q", event.Data.Route, route)
	}
	return nil
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
	secrets := strings.Fields(os.Getenv("WEBHOOK_SECRETS"))
	if err := Verify(body, header, secrets, os.Getenv("WEBHOOK_ROUTE")); err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	fmt.Println("verified", header.Get("webhook-id"))
}
