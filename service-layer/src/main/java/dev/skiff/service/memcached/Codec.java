package dev.skiff.service.memcached;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Function;

/**
 * Turns values into the bytes memcached stores and back.
 *
 * @param <T> the value type
 */
public interface Codec<T> {
  /**
   * @param value the value (never null)
   * @return its bytes
   */
  byte[] encode(T value);

  /**
   * @param bytes bytes written by {@link #encode(Object)}
   * @return the value
   * @throws RuntimeException when the bytes are not a value of this codec (read-through treats that as a miss)
   */
  T decode(byte[] bytes);

  /** @return bytes as they are */
  static Codec<byte[]> bytes() {
    return of(b -> b, b -> b);
  }

  /** @return strings as UTF-8 */
  static Codec<String> utf8() {
    return of(s -> s.getBytes(StandardCharsets.UTF_8), b -> new String(b, StandardCharsets.UTF_8));
  }

  /**
   * A codec from two functions, e.g. {@code Codec.of(Message::toByteArray, Booking::parseFrom)}.
   *
   * @param encode value to bytes
   * @param decode bytes to value
   * @param <T> the value type
   * @return the codec
   */
  static <T> Codec<T> of(Function<T, byte[]> encode, Function<byte[], T> decode) {
    Objects.requireNonNull(encode, "encode");
    Objects.requireNonNull(decode, "decode");
    return new Codec<>() {
      @Override
      public byte[] encode(T value) {
        return encode.apply(value);
      }

      @Override
      public T decode(byte[] bytes) {
        return decode.apply(bytes);
      }
    };
  }
}
