package dev.skiff.platform.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The platform layer's structure (docs/architecture.md), as rules that fail the build when broken: what
 * a reader of the package map may rely on.
 */
class ArchitectureTest {
  static final JavaClasses PLATFORM =
      new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.skiff.platform");

  @Test
  void noPackageCycles() {
    slices().matching("dev.skiff.platform.(**)").should().beFreeOfCycles().check(PLATFORM);
  }

  @Test
  void configurationKnowsNoTransport() {
    noClasses().that().resideInAPackage("dev.skiff.platform.config..")
        .should().dependOnClassesThat().resideInAPackage("dev.skiff.platform.transport..")
        .check(PLATFORM);
  }

  @Test
  void transportsKnowNothingOfServersAndClients() {
    noClasses().that().resideInAPackage("dev.skiff.platform.transport..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.skiff.platform.server..", "dev.skiff.platform.client..",
            "dev.skiff.platform.health..", "dev.skiff.platform.discovery..", "dev.skiff.platform.trace..")
        .check(PLATFORM);
  }

  @Test
  void serversAndClientsSpeakOnlyTheTransportSpiNotRabbitMq() {
    noClasses().that().resideOutsideOfPackage("dev.skiff.platform.transport.amqp..")
        .and().doNotHaveFullyQualifiedName("dev.skiff.platform.server.SkiffService")
        .should().dependOnClassesThat().resideInAnyPackage("dev.skiff.platform.transport.amqp..", "com.rabbitmq..")
        .because("RabbitMQ is one transport behind the Transport SPI; SkiffService alone connects it for a process")
        .check(PLATFORM);
  }

  @Test
  void resilience4jStaysBehindTheClientsBreakers() {
    noClasses().that().haveNameNotMatching("dev\\.skiff\\.platform\\.client\\.Breakers(\\$.*)?")
        .should().dependOnClassesThat().resideInAPackage("io.github.resilience4j..")
        .because("breaking circuits is configured with Skiff's own BreakerOptions")
        .check(PLATFORM);
  }

  @Test
  void everyThreadComesFromTheOneHelperThatNamesIt() {
    noClasses().that().doNotHaveFullyQualifiedName("dev.skiff.platform.internal.Threads")
        .should().callConstructor(Thread.class, Runnable.class, String.class)
        .orShould().callConstructor(Thread.class, Runnable.class)
        .orShould().callConstructor(Thread.class)
        .because("dev.skiff.platform.internal.Threads names every thread and makes it a daemon")
        .check(PLATFORM);
  }
}
