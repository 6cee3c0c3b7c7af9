package example.workers;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import io.temporal.api.common.v1.Payload;
import io.temporal.payload.codec.PayloadCodec;
import io.temporal.payload.codec.PayloadCodecException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The AES-256-GCM payload codec shared with the Go worker and codec server, the TypeScript worker
 * and the Python module in examples/codec (the format is written down in
 * examples/workers/go/codec/aes.go): a payload sealed by any of them opens with any other.
 *
 * <p>An encoded payload's metadata is {"encoding": "binary/encrypted", "encryption-key-id": <the
 * first 16 hex characters of SHA-256(key)>}, its data the 12-byte nonce, then the original
 * Payload (serialized deterministically: metadata sorted by key) sealed with no associated data,
 * then the 16-byte tag. Only the JDK's javax.crypto is used.
 */
public final class AesGcmCodec implements PayloadCodec {
  public static final String ENCODING = "binary/encrypted";
  public static final String KEY_ID_METADATA = "encryption-key-id";
  private static final int NONCE_SIZE = 12;
  private static final int TAG_BITS = 128;
  private static final Pattern KEY_TEXT = Pattern.compile("[0-9a-fA-F]{64}");
  private static final ByteString ENCODING_BYTES = ByteString.copyFromUtf8(ENCODING);

  private final SecretKeySpec key;
  private final String keyId;
  private final ByteString keyIdBytes;
  private final SecureRandom random = new SecureRandom();

  public AesGcmCodec(byte[] key) {
    if (key.length != 32) {
      throw new IllegalArgumentException(
          "AES-256 needs a 32-byte key, got " + key.length + " bytes");
    }
    this.key = new SecretKeySpec(key, "AES");
    this.keyId = keyId(key);
    this.keyIdBytes = ByteString.copyFromUtf8(keyId);
  }

  /** A key file: 64 hex characters, surrounding whitespace ignored. */
  public static AesGcmCodec fromKeyFile(Path path) throws IOException {
    String text = Files.readString(path, StandardCharsets.UTF_8).strip();
    if (!KEY_TEXT.matcher(text).matches()) {
      throw new IllegalArgumentException(path + ": want 64 hex characters (a 32-byte key)");
    }
    return new AesGcmCodec(HexFormat.of().parseHex(text));
  }

  /** The id written next to each payload: 16 hex characters of SHA-256(key). */
  public static String keyId(byte[] key) {
    try {
      byte[] sum = MessageDigest.getInstance("SHA-256").digest(key);
      return HexFormat.of().formatHex(sum).substring(0, 16);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  public String keyId() {
    return keyId;
  }

  @Override
  public List<Payload> encode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload p : payloads) {
      byte[] nonce = new byte[NONCE_SIZE];
      random.nextBytes(nonce);
      byte[] sealed;
      try {
        sealed = cipher(Cipher.ENCRYPT_MODE, nonce).doFinal(serialize(p));
      } catch (GeneralSecurityException e) {
        throw new PayloadCodecException("encrypting a payload", e);
      }
      byte[] data = new byte[NONCE_SIZE + sealed.length];
      System.arraycopy(nonce, 0, data, 0, NONCE_SIZE);
      System.arraycopy(sealed, 0, data, NONCE_SIZE, sealed.length);
      out.add(
          Payload.newBuilder()
              .putMetadata("encoding", ENCODING_BYTES)
              .putMetadata(KEY_ID_METADATA, keyIdBytes)
              .setData(ByteString.copyFrom(data))
              .build());
    }
    return out;
  }

  /** Opens what this codec sealed; other payloads pass through, as written before a codec. */
  @Override
  public List<Payload> decode(List<Payload> payloads) {
    List<Payload> out = new ArrayList<>(payloads.size());
    for (Payload p : payloads) {
      if (!ENCODING_BYTES.equals(p.getMetadataOrDefault("encoding", ByteString.EMPTY))) {
        out.add(p);
        continue;
      }
      String found = p.getMetadataOrDefault(KEY_ID_METADATA, ByteString.EMPTY).toStringUtf8();
      if (!found.equals(keyId)) {
        throw new PayloadCodecException(
            "payload sealed with unknown key id \"" + found + "\" (this codec has " + keyId + ")");
      }
      byte[] data = p.getData().toByteArray();
      if (data.length < NONCE_SIZE + TAG_BITS / 8) {
        throw new PayloadCodecException("encrypted payload too short (" + data.length + " bytes)");
      }
      byte[] nonce = Arrays.copyOfRange(data, 0, NONCE_SIZE);
      try {
        byte[] plain =
            cipher(Cipher.DECRYPT_MODE, nonce).doFinal(data, NONCE_SIZE, data.length - NONCE_SIZE);
        out.add(Payload.parseFrom(plain));
      } catch (GeneralSecurityException e) {
        throw new PayloadCodecException("decrypting a payload", e);
      } catch (InvalidProtocolBufferException e) {
        throw new PayloadCodecException("the decrypted payload is not a Payload", e);
      }
    }
    return out;
  }

  /** A Cipher is not thread-safe and GCM forbids reusing one's nonce: one per payload. */
  private Cipher cipher(int mode, byte[] nonce) throws GeneralSecurityException {
    Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
    cipher.init(mode, key, new GCMParameterSpec(TAG_BITS, nonce));
    return cipher;
  }

  /**
   * The payload as the Go (Deterministic) and Python (deterministic=True) codecs serialize it:
   * metadata entries sorted by key. protobuf-java writes map entries in insertion order unless
   * the stream asks for deterministic output.
   */
  private static byte[] serialize(Payload p) {
    byte[] buf = new byte[p.getSerializedSize()];
    CodedOutputStream stream = CodedOutputStream.newInstance(buf);
    stream.useDeterministicSerialization();
    try {
      p.writeTo(stream);
    } catch (IOException e) {
      throw new PayloadCodecException("serializing a payload", e);
    }
    stream.checkNoSpaceLeft();
    return buf;
  }
}
