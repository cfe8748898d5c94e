package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.platform.Callee;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Rules every command keeps alike, shown without a broker (its URI points where nothing listens, so a
 * command that tried to connect would exit 3): a service name is checked by one rule before anything is
 * sent; two options that contradict each other are a usage error; every command takes {@code --help}; a
 * kernel service that does not answer gets the same hint from every command.
 */
class CommandLineRulesTest {
  private static final Map<String, String> NO_BROKER = Map.of("SKIFF_AMQP_URI", "amqp://guest:guest@127.0.0.1:1/");

  /** Every command that takes a service's name, with that name in place of {@code %s}. */
  private static final List<String[]> WITH_A_SERVICE = List.of(
      new String[] {"services", "%s"},
      new String[] {"health", "%s"},
      new String[] {"route", "%s"},
      new String[] {"route", "%s", "1.0.0=100"},
      new String[] {"call", "%s", "hello"},
      new String[] {"load", "%s", "hello", "{}", "--calls", "1", "--concurrency", "1"},
      new String[] {"dead-letters", "list", "%s"});

  private static String[] with(String[] template, String name) {
    String[] args = template.clone();
    for (int i = 0; i < args.length; i++) {
      args[i] = args[i].replace("%s", name);
    }
    return args;
  }

  @Test
  void anEmptyOrMalformedServiceNameIsAUsageErrorOfEveryCommandBeforeAnythingIsSent() {
    for (String[] template : WITH_A_SERVICE) {
      Skiff.Result empty = Skiff.run(NO_BROKER, with(template, ""));
      assertThat(empty.exitCode()).as("%s", empty).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(empty.err()).contains("a service name is needed here, not an empty one");
      Skiff.Result bad = Skiff.run(NO_BROKER, with(template, "Bad Name!\u001b[2J"));
      assertThat(bad.exitCode()).as("%s", bad).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(bad.err()).contains("is not a service name", "e.g. com.example.greeter").doesNotContain("\u001b");
    }
  }

  @Test
  void aMalformedVersionOrInstanceIsAUsageErrorBeforeAnythingIsSent() {
    for (String command : new String[] {"call", "load"}) {
      for (String[] option : new String[][] {{"--version", "<b>"}, {"--version", ""}, {"--instance", "a b"}, {"--instance", ""},
          {"--instance", "\u001b[2Jx"}}) {
        List<String> args = new java.util.ArrayList<>(List.of(command, "com.example.greeter", "hello", "{}"));
        if (command.equals("load")) {
          args.addAll(List.of("--calls", "1", "--concurrency", "1"));
        }
        args.addAll(List.of(option));
        Skiff.Result r = Skiff.run(NO_BROKER, args.toArray(String[]::new));
        assertThat(r.exitCode()).as("%s", r).isEqualTo(SkiffCli.EXIT_USAGE);
        assertThat(r.err()).as("%s", r).containsAnyOf("is not a version", "is not an instance id", "not an empty one")
            .doesNotContain("\u001b");
      }
    }
  }

  @Test
  void anInstanceAndAVersionTogetherAreAUsageError() {
    List<String[]> commands = List.of(
        new String[] {"call", "com.example.greeter", "hello", "{}", "--instance", "cda7b88b", "--version", "9.9.9"},
        new String[] {"load", "com.example.greeter", "hello", "{}", "--calls", "1", "--concurrency", "1", "--instance", "cda7b88b",
            "--version", "9.9.9"});
    for (String[] args : commands) {
      Skiff.Result r = Skiff.run(NO_BROKER, args);
      assertThat(r.exitCode()).as("%s", r).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err()).contains("give --instance or --version, not both");
    }
  }

  @Test
  void theKernelsUserIsNotMadeAServicesUserByANewPassword() {
    for (Map<String, String> env : List.of(NO_BROKER, Map.of("SKIFF_AMQP_URI", NO_BROKER.get("SKIFF_AMQP_URI"), "SKIFF_KERNEL_USER", "ops-kernel"))) {
      String kernelUser = env.getOrDefault("SKIFF_KERNEL_USER", "skiff-kernel");
      Skiff.Result r = Skiff.run(env, "credentials", "create", kernelUser);
      assertThat(r.exitCode()).as("%s", r).isEqualTo(SkiffCli.EXIT_USAGE);
      assertThat(r.err()).contains("'" + kernelUser + "' is the kernel's user: add --admin");
    }
  }

  @Test
  void anAmqpOptionBeforeTheCommandSaysWhereItGoes() {
    Skiff.Result r = Skiff.run(NO_BROKER, "--amqp", "amqp://guest:secret-pw@127.0.0.1:1/", "services");
    assertThat(r.exitCode()).as("%s", r).isEqualTo(SkiffCli.EXIT_USAGE);
    assertThat(r.err()).contains("put it after the command, e.g. 'skiff services --amqp URI'").doesNotContain("secret-pw");
  }

  @Test
  void newTakesHelpLikeEveryOtherCommand() {
    Skiff.Result help = Skiff.run(NO_BROKER, "new", "--help");
    assertThat(help.exitCode()).as("%s", help).isZero();
    assertThat(help.out()).contains("Usage: skiff new", "Exit codes:");
  }

  @Test
  void aBrokersRefusalIsNotBlamedOnThePersonsRoles() {
    java.io.StringWriter out = new java.io.StringWriter();
    SkiffCli.printError(new java.io.PrintWriter(out, true), new SkiffException(ErrorCode.FORBIDDEN,
        "cannot read the dead letters of com.x: ACCESS_REFUSED - access to queue 'skiff.dlq.com.x' refused for user 'x3-cli'"));
    assertThat(out.toString()).contains("the broker refused the broker user this command connects as").doesNotContain("your roles");
    java.io.StringWriter roles = new java.io.StringWriter();
    SkiffCli.printError(new java.io.PrintWriter(roles, true), new SkiffException(ErrorCode.FORBIDDEN, "needs role ADMIN.ROUTES"));
    assertThat(roles.toString()).contains("'skiff whoami' shows your roles");
  }

  @Test
  void aKernelServiceThatDoesNotAnswerGetsOneHintWhateverTheCommand() {
    SkiffException timeout = new SkiffException(ErrorCode.TIMEOUT, "no reply from skiff.config/log within 9990 ms")
        .fromCallTo(new Callee("skiff.config", "log", true));
    assertThat(SkiffCli.kernelHint(timeout)).contains(
        "(the config service (skiff.config) did not answer: is the kernel running? start it with 'skiff kernel' or 'skiff kernel config')");
    SkiffException missing = new SkiffException(ErrorCode.NOT_FOUND, "service skiff.login is not running (no queue is bound for it)")
        .fromCallTo(new Callee("skiff.login", "login", false));
    assertThat(SkiffCli.kernelHint(missing))
        .contains("(the login service is not running: start it with 'skiff kernel' or 'skiff kernel login')");
    SkiffException answered = new SkiffException(ErrorCode.NOT_FOUND, "no user 'x'")
        .withOrigin("skiff.login", "users.unlock", "a1b2c3d4", "r1").fromCallTo(new Callee("skiff.login", "users.unlock", true));
    assertThat(SkiffCli.kernelHint(answered)).as("the service itself answered").isEmpty();
    SkiffException notKernel = new SkiffException(ErrorCode.TIMEOUT, "no reply").fromCallTo(new Callee("com.example.greeter", "hello", false));
    assertThat(SkiffCli.kernelHint(notKernel)).isEmpty();
    SkiffException gateway = new SkiffException(ErrorCode.TIMEOUT, "no reply").fromCallTo(new Callee("skiff.gateway", "x", false));
    assertThat(SkiffCli.kernelHint(gateway)).as("the gateway is not run by 'skiff kernel'").isEmpty();
  }
}
