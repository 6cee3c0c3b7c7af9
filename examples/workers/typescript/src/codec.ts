// The AES-256-GCM payload codec shared with the Go worker, the Go codec server, the Java worker
// and the Python module in examples/codec (see examples/workers/go/codec/aes.go for the
// format): a payload sealed by any of them opens with any other.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const ProtoPayload = temporal.api.common.v1.Payload;

/** The id written next to each payload: 16 hex characters of SHA-256(key). */
export function keyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** A key file's 32 bytes: 64 hex characters, surrounding whitespace ignored. */
export function loadKeyFile(path: string): Buffer {
  const text = readFileSync(path, 'utf8').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new Error(`${path}: want 64 hex characters (a 32-byte key)`);
  }
  return Buffer.from(text, 'hex');
}

/**
 * The payload serialized as the Go (Deterministic) and Python (deterministic=True) codecs do:
 * metadata entries sorted by key, empty data left out. protobufjs writes map entries in the
 * object's key order and writes a present empty bytes field, hence this normal form.
 */
function serialize(p: Payload): Uint8Array {
  const metadata: Record<string, Uint8Array> = {};
  for (const k of Object.keys(p.metadata ?? {}).sort()) metadata[k] = p.metadata![k];
  const normal: Payload = { metadata };
  if (p.data && p.data.length > 0) normal.data = p.data;
  return ProtoPayload.encode(normal).finish();
}

export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error(`AES-256 needs a 32-byte key, got ${key.length} bytes`);
    this.keyId = keyId(key);
  }

  static fromKeyFile(path: string): AesGcmCodec {
    return new AesGcmCodec(loadKeyFile(path));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const nonce = randomBytes(NONCE_SIZE);
      const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
      const sealed = Buffer.concat([cipher.update(serialize(p)), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: Buffer.from(ENCODING),
          [KEY_ID_METADATA]: Buffer.from(this.keyId),
        },
        data: Buffer.concat([nonce, sealed]),
      };
    });
  }

  /** Opens what this codec sealed; other payloads pass through, as written before a codec. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding;
      if (!encoding || Buffer.from(encoding).toString() !== ENCODING) return p;
      const found = Buffer.from(p.metadata?.[KEY_ID_METADATA] ?? []).toString();
      if (found !== this.keyId) {
        throw new Error(`payload sealed with unknown key id ${JSON.stringify(found)} (this codec has ${this.keyId})`);
      }
      const data = Buffer.from(p.data ?? []);
      if (data.length < NONCE_SIZE + TAG_SIZE) throw new Error(`encrypted payload too short (${data.length} bytes)`);
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, NONCE_SIZE));
      decipher.setAuthTag(data.subarray(data.length - TAG_SIZE));
      const plain = Buffer.concat([decipher.update(data.subarray(NONCE_SIZE, data.length - TAG_SIZE)), decipher.final()]);
      return ProtoPayload.decode(plain);
    });
  }
}
