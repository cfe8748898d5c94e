// Refuses a project whose names skiff new refuses (docs/cli.md "skiff new"): the service name is the Java
// package of the generated code and its last part the class name, so each part must be a Java name
// (lower case, no '-', not a keyword). Maven validates a requiredProperty's validationRegex only when it
// asks for the value, not for -DartifactId, so the check is here; what was written is removed.
// The class name (className, from artifactId) and its test class must not be named, ignoring case, as a
// type the generated code uses (TEMPLATE_TYPES: cli's NewProject.TEMPLATE_TYPES, the same list, which
// NewCommandTest checks) nor as a public type of java.lang: such a project would not compile.
import java.lang.reflect.Modifier
import java.nio.file.FileSystems
import java.nio.file.Files
import javax.lang.model.SourceVersion

def TEMPLATE_TYPES = [
    "AfterAll", "Assertions", "AtomicLong", "AtomicReference", "BeforeAll", "Builder", "CallOptions",
    "CassandraClient", "CassandraSession", "ChronoUnit", "Duration", "ErrorCode", "HealthCheck",
    "HealthCheckRegistry", "HelloRequest", "HelloResponse", "InProcessSkiff", "Instant", "LayeredConfig", "Map",
    "MetricRegistry", "PlatformHealth", "Query", "ReadyCheck", "Result", "Server", "ServerBuilder",
    "SkiffException", "SkiffService", "Test", "UUID"]

def props = request.properties
String service = props.getProperty('service')
File project = new File(request.outputDirectory, request.artifactId)
boolean serviceName = service ==~ /[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*/ && service.length() <= 200
if (!serviceName || !SourceVersion.isName(service, SourceVersion.RELEASE_17) || props.getProperty('package') != service) {
    project.deleteDir()
    throw new IllegalArgumentException("service '" + service + "' (groupId.artifactId) is not a name skiff new makes a project of: "
        + "each part must be lower case, start with a letter and hold no '-' nor be a Java keyword, since it is also the Java "
        + "package (e.g. -DartifactId=order_history, not order-history); nothing was kept")
}

String className = props.getProperty('className')
def lang = FileSystems.getFileSystem(URI.create("jrt:/")).getPath("modules", "java.base", "java", "lang")
def javaLang = Files.list(lang).withCloseable { files ->
    files.toList().collect { it.fileName.toString() }
        .findAll { it.endsWith(".class") && !it.contains('$') && it != "package-info.class" }
        .collect { it - ".class" }
        .findAll {
            try {
                Modifier.isPublic(Class.forName("java.lang." + it, false, null).modifiers)
            } catch (ClassNotFoundException | LinkageError ignored) {
                true
            }
        }
}
for (String name : [className, className + "Test"]) {
    String clash = javaLang.find { it.equalsIgnoreCase(name) }?.with { "java.lang." + it + ", which Java code sees without an import" } \
        ?: TEMPLATE_TYPES.find { it.equalsIgnoreCase(name) }?.with { it + ", a type the generated code uses" }
    if (clash != null) {
        project.deleteDir()
        throw new IllegalArgumentException("service '" + service + "' would make the class " + name + ", the same name (ignoring case) as "
            + clash + ": the project would not build; choose another artifactId (e.g. -DartifactId="
            + request.artifactId + "_service); nothing was kept")
    }
}
