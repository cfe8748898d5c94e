package dev.skiff.platform.arch;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/** The platform layer's package structure, as rules that fail the build when broken. */
class ArchitectureTest {
  static final JavaClasses PLATFORM =
      new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.skiff.platform");

  @Test
  void noPackageCycles() {
    slices().matching("dev.skiff.platform.(**)").should().beFreeOfCycles().check(PLATFORM);
  }
}
