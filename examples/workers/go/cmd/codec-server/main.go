// Command codec-server serves the AES-GCM codec of package codec over HTTP, in the protocol
// of Temporal's codec servers: the Temporal UI, the temporal CLI (--codec-endpoint) and the
// gateway send it payloads to decode or encode instead of holding the key themselves.
//
//	POST /decode  and  POST /encode
//	  X-Namespace: <namespace>              required (one key serves every namespace here)
//	  Authorization: Bearer <token>         required when --token-file is set
//	  Content-Type: application/json
//	  body and answer: temporal.api.common.v1.Payloads in proto JSON, {"payloads": [...]}
//
// GET /healthz answers 200 for probes.
package main

import (
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"example.com/temporal-gateway/examples/workers/go/codec"
)

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

type server struct {
	codec   *codec.AESCodec
	token   string // empty: no authentication
	origins map[string]bool
	maxBody int64
}

func main() {
	listen := flag.String("listen", env("CODEC_LISTEN", "127.0.0.1:8089"), "address to listen on (CODEC_LISTEN)")
	keyFile := flag.String("codec-key-file", env("CODEC_KEY_FILE", ""), "AES-256 key, 64 hex characters (CODEC_KEY_FILE; required)")
	tokenFile := flag.String("token-file", env("CODEC_TOKEN_FILE", ""), "require Authorization: Bearer <the file's content> (CODEC_TOKEN_FILE)")
	certFile := flag.String("tls-cert", env("CODEC_TLS_CERT", ""), "serve HTTPS with this certificate (CODEC_TLS_CERT)")
	keyPEM := flag.String("tls-key", env("CODEC_TLS_KEY", ""), "and this private key (CODEC_TLS_KEY)")
	origins := flag.String("cors-origins", env("CODEC_CORS_ORIGINS", ""), "comma-separated origins allowed from browsers, e.g. the Temporal UI's http://localhost:8080 (CODEC_CORS_ORIGINS)")
	maxBody := flag.Int64("max-body-bytes", 4<<20, "larger requests get 413")
	flag.Parse()

	if *keyFile == "" {
		log.Fatalln("--codec-key-file (or CODEC_KEY_FILE) is required")
	}
	aes, err := codec.FromKeyFile(*keyFile)
	if err != nil {
		log.Fatalln("codec key:", err)
	}
	s := &server{codec: aes, origins: map[string]bool{}, maxBody: *maxBody}
	if *tokenFile != "" {
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			log.Fatalln("token file:", err)
		}
		if s.token = strings.TrimSpace(string(raw)); s.token == "" {
			log.Fatalln("token file is empty")
		}
	}
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			s.origins[o] = true
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/encode", s.handler(aes.Encode))
	mux.Handle("/decode", s.handler(aes.Decode))
	httpServer := &http.Server{Addr: *listen, Handler: mux}
	log.Printf("codec server on %s (key id %s, auth %v, tls %v)", *listen, aes.KeyID(), s.token != "", *certFile != "")
	if *certFile != "" || *keyPEM != "" {
		err = httpServer.ListenAndServeTLS(*certFile, *keyPEM)
	} else {
		err = httpServer.ListenAndServe()
	}
	log.Fatalln(err)
}

type transform func([]*commonpb.Payload) ([]*commonpb.Payload, error)

func (s *server) handler(apply transform) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cors(w, r) {
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("X-Namespace") == "" {
			http.Error(w, "the X-Namespace header is required", http.StatusBadRequest)
			return
		}
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="codec"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", s.maxBody), http.StatusRequestEntityTooLarge)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in commonpb.Payloads
		if err := protojson.Unmarshal(body, &in); err != nil {
			http.Error(w, "body is not proto JSON Payloads: "+err.Error(), http.StatusBadRequest)
			return
		}
		out, err := apply(in.GetPayloads())
		if err != nil {
			// A payload this key cannot open (another key, tampered data): the caller's input.
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
}

func (s *server) authorized(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(given), []byte(s.token)) == 1
}

// cors answers a browser's preflight and marks allowed origins; false when the request has
// been answered (a preflight) and nothing more is to be done.
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin != "" && s.origins[origin] {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	return true
}
