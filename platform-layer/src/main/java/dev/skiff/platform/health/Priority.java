package dev.skiff.platform.health;

/** Who must hear of a failing healthcheck, most urgent first. */
public enum Priority {
  /** Wake someone up: the service cannot do its job. */
  PAGE,
  /** Tell the owners soon: the service is degraded. */
  NOTIFY,
  /** Worth a look: a sign of trouble to come. */
  WARN;

  /** @return the wire form */
  public dev.skiff.proto.v1.CheckPriority toProto() {
    return dev.skiff.proto.v1.CheckPriority.valueOf(name());
  }
}
