package dev.skiff.platform.transport;

/** The body encodings Skiff speaks. */
public final class ContentTypes {
  /** Protobuf binary: what services send each other. */
  public static final String PROTOBUF = "application/x-protobuf";
  /** Protobuf's canonical JSON mapping: what tools send. */
  public static final String JSON = "application/json";

  private ContentTypes() {}

  /**
   * Whether a content type names JSON ({@code application/json}, with or without parameters).
   *
   * @param contentType the content type, may be null
   * @return true for JSON
   */
  public static boolean isJson(String contentType) {
    return contentType != null && contentType.startsWith(JSON);
  }
}
