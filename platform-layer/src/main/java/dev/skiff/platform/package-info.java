/**
 * <b>API.</b> What every part of Skiff speaks: the one error model ({@link dev.skiff.platform.SkiffException}
 * with its {@link dev.skiff.platform.ErrorCode}, and how far a failed request got,
 * {@link dev.skiff.platform.RpcProgress}) and the one rule for names ({@link dev.skiff.platform.Names}).
 *
 * <p>The platform layer's packages (docs/architecture.md): API for service authors in {@code server},
 * {@code client}, {@code config}, {@code health}, {@code metrics}, {@code trace}, {@code pubsub},
 * {@code discovery}; SPI for those who plug in in {@code transport} (transports) and {@code observe}
 * (observers of every request and call); {@code internal} is neither, and may change in any release.
 */
package dev.skiff.platform;
