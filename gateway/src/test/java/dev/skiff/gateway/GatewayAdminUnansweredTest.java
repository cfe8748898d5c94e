package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kernel.monitoring.MonitoringService;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import dev.skiff.platform.security.Access;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.server.Endpoint;
import dev.skiff.platform.server.Server;
import dev.skiff.proto.v1.HealthOverview;
import dev.skiff.proto.v1.HealthQuery;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An admin route whose kernel service does not answer (not running: no queue; running but silent past the
 * deadline) is 503 {@code UNAVAILABLE} with {@code Retry-After}, saying the kernel service did not answer
 * (docs/gateway.md, "Admin routes"), not 504; an error the kernel service raised itself keeps its own status.
 * Here only the login service runs, and a stand-in for the monitoring service that is silent or raises.
 */
class GatewayAdminUnansweredTest {
  @RegisterExtension static final GatewayExtension gw = new GatewayExtension(GatewayOptions.defaults().withRates(1000, 1000))
      .withKernel(List::of);

  private static HttpResponse<String> health(String query, String timeout) throws Exception {
    return gw.f().send(gw.f().request("/admin/v1/health" + query).header("Authorization", "Bearer " + gw.adminToken())
        .header(GatewayHandler.TIMEOUT_HEADER, timeout).GET());
  }

  private static void assertDidNotAnswer(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).hasValue("1");
    assertThat(r.body()).startsWith("{\"code\":\"UNAVAILABLE\"").contains(MonitoringService.SERVICE, "did not answer");
  }

  @Test
  void aKernelServiceThatDoesNotAnswerIs503WithRetryAfter() throws Exception {
    // not running: no queue for it
    assertDidNotAnswer(health("", "2s"));
    // running, but silent past the deadline (the client's TIMEOUT), unless asked to raise an error itself
    Server silent = Server.builder(MonitoringService.SERVICE).transport(gw.f().transport).identities(ServiceIdentities.defaults())
        .endpoint(Endpoint.of(MonitoringService.ENDPOINT, HealthQuery.class, HealthOverview.class, (req, ctx) -> {
          if (req.getService().equals("raises.timeout")) {
            throw new SkiffException(ErrorCode.TIMEOUT, "the monitoring service's own timeout");
          }
          try {
            Thread.sleep(3000);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return HealthOverview.getDefaultInstance();
        }).withAccess(Access.anyone()))
        .build()
        .start();
    try {
      assertDidNotAnswer(health("", "500ms"));
      // a TIMEOUT the kernel service raised itself is its answer: 504, as on any route
      HttpResponse<String> raised = health("?service=raises.timeout", "2s");
      assertThat(raised.statusCode()).as(raised.body()).isEqualTo(504);
      assertThat(raised.body()).contains("\"code\":\"TIMEOUT\"", "the monitoring service's own timeout");
    } finally {
      silent.close();
    }
  }
}
