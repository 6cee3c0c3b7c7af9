// Command descriptor-set writes the FileDescriptorSet of the worker's protobuf messages, with
// every file they import, as `buf build -o` or `protoc --include_imports
// --descriptor_set_out` would: the file a gateway route's `descriptorSet` names, so the gateway
// can decode the worker's binary/protobuf payloads (and check proto JSON inputs). It is made
// from the descriptors compiled into this module, so it always matches the worker.
//
//	descriptor-set -o gateway.examples.v1.binpb
//	kubectl create configmap gateway-descriptor-sets --from-file=gateway.examples.v1.binpb
package main

import (
	"flag"
	"log"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	examplesv1 "example.com/temporal-gateway/examples/workers/go/gen/gateway/examples/v1"
)

func main() {
	out := flag.String("o", "-", "where to write the descriptor set (- for standard output)")
	flag.Parse()

	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	// Imports first: a reader builds its pool file by file, each after its dependencies.
	var add func(file protoreflect.FileDescriptor)
	add = func(file protoreflect.FileDescriptor) {
		if seen[file.Path()] {
			return
		}
		seen[file.Path()] = true
		imports := file.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(file))
	}
	add(examplesv1.File_gateway_examples_v1_receipt_proto)

	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		log.Fatalln("encoding the descriptor set:", err)
	}
	if *out == "-" {
		_, err = os.Stdout.Write(data)
	} else {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		log.Fatalln("writing the descriptor set:", err)
	}
}
