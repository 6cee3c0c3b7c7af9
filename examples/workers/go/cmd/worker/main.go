// Command worker is a Temporal worker written with the Go SDK, for the gateway to serve: it
// polls one task queue and hosts the workflows of package workflows. Every flag has an
// environment variable, so tests and containers need no command line.
//
//	worker --task-queue go-workers                       # the default data converter
//	worker --codec-key-file key.hex                      # payloads and failures AES-GCM encrypted
//	worker --binary-protobuf                             # proto messages as binary/protobuf
//	worker --zlib                                        # payloads compressed (the SDK's zlib codec)
package main

import (
	"flag"
	"log"
	"os"
	"strconv"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"example.com/temporal-gateway/examples/workers/go/codec"
	"example.com/temporal-gateway/examples/workers/go/workflows"
)

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}

func main() {
	binaryDefault, _ := strconv.ParseBool(env("BINARY_PROTOBUF", "false"))
	zlibDefault, _ := strconv.ParseBool(env("ZLIB_CODEC", "false"))
	address := flag.String("address", env("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend host:port (TEMPORAL_ADDRESS)")
	namespace := flag.String("namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (TEMPORAL_NAMESPACE)")
	taskQueue := flag.String("task-queue", env("WORKER_TASK_QUEUE", "go-workers"), "task queue to poll (WORKER_TASK_QUEUE)")
	keyFile := flag.String("codec-key-file", env("CODEC_KEY_FILE", ""), "AES-256 key, 64 hex characters: encrypt payloads and failures (CODEC_KEY_FILE)")
	binaryProto := flag.Bool("binary-protobuf", binaryDefault, "send proto messages as binary/protobuf rather than json/protobuf (BINARY_PROTOBUF)")
	zlibCodec := flag.Bool("zlib", zlibDefault, "compress every payload with the SDK's zlib codec, binary/zlib (ZLIB_CODEC)")
	flag.Parse()
	if *zlibCodec && *keyFile != "" {
		log.Fatalln("--zlib and --codec-key-file: choose one")
	}

	options := client.Options{HostPort: *address, Namespace: *namespace}
	dataConverter := converter.GetDefaultDataConverter()
	if *binaryProto {
		// The composite converter uses the first converter that accepts a value: binary proto
		// before proto JSON. Decoding goes by each payload's encoding, so both still decode.
		dataConverter = converter.NewCompositeDataConverter(
			converter.NewNilPayloadConverter(),
			converter.NewByteSlicePayloadConverter(),
			converter.NewProtoPayloadConverter(),
			converter.NewProtoJSONPayloadConverter(),
			converter.NewJSONPayloadConverter(),
		)
	}
	if *keyFile != "" {
		aes, err := codec.FromKeyFile(*keyFile)
		if err != nil {
			log.Fatalln("codec key:", err)
		}
		dataConverter = converter.NewCodecDataConverter(dataConverter, aes)
		// Without EncodeCommonAttributes a failure's message and stack trace are stored in
		// clear text; with it they move into an encoded payload and the message reads
		// "Encoded failure".
		options.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
			DataConverter:          dataConverter,
			EncodeCommonAttributes: true,
		})
		log.Printf("payloads encrypted with key id %s", aes.KeyID())
	}
	if *zlibCodec {
		// The Go SDK's own codec, as teams turn it on: the gateway reads it with
		// gateway_core.zlib_codec:ZlibCodec (docs/codecs.md). AlwaysEncode: even small payloads.
		dataConverter = converter.NewCodecDataConverter(dataConverter,
			converter.NewZlibCodec(converter.ZlibCodecOptions{AlwaysEncode: true}))
		log.Printf("payloads compressed with zlib")
	}
	options.DataConverter = dataConverter

	c, err := client.Dial(options)
	if err != nil {
		log.Fatalln("connecting to Temporal:", err)
	}
	defer c.Close()

	w := worker.New(c, *taskQueue, worker.Options{})
	workflows.Register(w)
	log.Printf("polling task queue %q in namespace %q at %s", *taskQueue, *namespace, *address)
	// Run returns on SIGINT or SIGTERM, after in-flight tasks finish.
	if err := w.Run(worker.InterruptCh()); err != nil {
		log.Fatalln("worker:", err)
	}
}
