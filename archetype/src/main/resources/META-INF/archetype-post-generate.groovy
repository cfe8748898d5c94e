// Refuses a project whose names skiff new refuses (docs/cli.md "skiff new"): the service name is the Java
// package of the generated code and its last part the class name, so each part must be a Java name
// (lower case, no '-', not a keyword). Maven validates a requiredProperty's validationRegex only when it
// asks for the value, not for -DartifactId, so the check is here; what was written is removed.
import javax.lang.model.SourceVersion

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
