package com.example.greeter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.example.greeter.proto.HelloRequest;
import com.example.greeter.proto.HelloResponse;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.testing.InProcessSkiff;
import org.junit.jupiter.api.Test;

/** How a service author unit-tests a service: in process, no broker. */
class GreeterTest {
  @Test
  void greetsByName() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(new Greeter());
      HelloResponse r = skiff.client().call(Greeter.NAME, "hello", HelloRequest.newBuilder().setName("Ada").build(), HelloResponse.class);
      assertThat(r.getGreeting()).isEqualTo("Hello, Ada!");
    }
  }

  @Test
  void aMissingNameIsABadRequest() {
    try (InProcessSkiff skiff = InProcessSkiff.create()) {
      skiff.start(new Greeter());
      assertThatThrownBy(() -> skiff.client().call(Greeter.NAME, "hello", HelloRequest.getDefaultInstance(), HelloResponse.class))
          .isInstanceOfSatisfying(SkiffException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.BAD_REQUEST));
    }
  }
}
