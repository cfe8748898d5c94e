package com.example.greeter;

import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.server.Server;
import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;

/**
 * The smallest Skiff service, written by subclassing {@link SkiffService}. Run it with
 * {@code java -jar examples/greeter/target/greeter.jar}; it reads {@code SKIFF_AMQP_URI} and
 * {@code SKIFF_SERVICE_VERSION} from the environment.
 */
public final class Greeter extends SkiffService {
  public static final String NAME = "com.example.greeter";

  public Greeter() {
    super(NAME, "1.0.0", "Greets people by name");
  }

  @Override
  protected void register(ServerBuilder service) {
    service.endpoint("hello", HelloRequest.class, HelloResponse.class, (req, ctx) -> {
      if (req.getName().isBlank()) {
        throw new SkiffException(ErrorCode.BAD_REQUEST, "name is required");
      }
      return HelloResponse.newBuilder().setGreeting("Hello, " + req.getName() + "!").build();
    });
  }

  public static void main(String[] args) throws InterruptedException {
    new Greeter().run();
  }
}
