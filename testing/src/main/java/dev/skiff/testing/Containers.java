package dev.skiff.testing;

/** The Docker path of {@link RabbitMqExtension}, kept apart so Testcontainers is loaded only when used. */
final class Containers {
  private Containers() {}

  record Started(AutoCloseable container, String uri) {}

  static boolean dockerAvailable() {
    try {
      return org.testcontainers.DockerClientFactory.instance().isDockerAvailable();
    } catch (LinkageError | RuntimeException e) {
      return false;
    }
  }

  static Started startRabbitMq(String image) {
    org.testcontainers.containers.RabbitMQContainer c = new org.testcontainers.containers.RabbitMQContainer(image);
    c.start();
    return new Started(c, c.getAmqpUrl().replace("amqp://", "amqp://" + c.getAdminUsername() + ":" + c.getAdminPassword() + "@"));
  }
}
