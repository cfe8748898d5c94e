package dev.skiff.cli;

import dev.skiff.platform.Names;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.ServiceIdentities;
import dev.skiff.platform.transport.amqp.AmqpNames;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff credentials create|delete|setup}: the broker users of services and of the kernel, with
 * Skiff's least privilege, through RabbitMQ's HTTP management API (docs/security.md).
 */
@Command(
    name = "credentials",
    header = "Manages the broker users services and the kernel connect as (RabbitMQ).",
    description = {
      "Each service connects with a broker user of its own, named after it, allowed only what it needs "
          + "(docs/security.md); the broker then proves who sent every request, reply and event. "
          + "Uses RabbitMQ's management API (plugin rabbitmq_management) as an administrator."
    },
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {CredentialsCommand.Create.class, CredentialsCommand.Delete.class, CredentialsCommand.Setup.class})
final class CredentialsCommand extends CommandGroup {

  /** {@code skiff credentials create NAME}: a service's broker user with least privilege. */
  @Command(
      name = "create",
      header = "Creates a service's broker user with least privilege (or sets a new password).",
      description = {
        "Creates broker user NAME in the broker URI's virtual host, allowed only what service NAME needs "
            + "(docs/security.md), and prints its password once on stdout: a new random one, or the one read "
            + "from stdin with --password-stdin. Run again to set a new password."
      },
      footer = {
        "",
        "Examples:",
        "  skiff credentials create com.example.greeter",
        "  skiff credentials create ops-admin --admin",
        "  skiff credentials create " + ServiceIdentities.DEFAULT_GATEWAY_USER + " --gateway",
        "",
        "Exit codes: 0 done, 1 refused by the broker, 2 usage error (also: NAME is the administrator running it), "
            + "3 the management API refused the administrator."
      })
  static final class Create extends ManagementCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "The service's dotted name (its broker user's name).")
    String name;

    @Option(names = "--admin", description = "The kernel's user or an operator's: every permission in the virtual host.")
    boolean admin;

    @Option(names = "--gateway", description = "The HTTP gateway's user (NAME, e.g. " + ServiceIdentities.DEFAULT_GATEWAY_USER
        + "): the least privilege of service " + ServiceIdentities.GATEWAY_SERVICE + ".")
    boolean gateway;

    @Option(names = "--password-stdin", description = "Read the password from the first line of stdin instead of generating one.")
    boolean passwordStdin;

    @Override
    public Integer call() {
      if (admin && gateway) {
        throw new ParameterException(spec.commandLine(), "--admin and --gateway exclude each other");
      }
      if (gateway) {
        if (!Names.isToken(name) || name.startsWith(ServiceIdentities.KERNEL_PREFIX)) {
          throw new ParameterException(spec.commandLine(), "invalid gateway user '" + name + "'");
        }
      } else if (!admin) {
        ServiceIdentities identities = ServiceIdentities.fromEnvironment(env());
        if (name.equals(identities.gatewayUser())) {
          throw new ParameterException(spec.commandLine(), "'" + name + "' is the gateway's user: add --gateway, so that it gets "
              + "the permissions of service " + ServiceIdentities.GATEWAY_SERVICE);
        }
        if (name.equals(identities.kernelUser())) {
          // a new password for the kernel's user must not also take away its permissions
          throw new ParameterException(spec.commandLine(), "'" + name + "' is the kernel's user: add --admin, so that it keeps "
              + "every permission in the virtual host");
        }
        checkServiceName(name, spec);
      }
      ManagementApi api = api();
      if (name.equals(api.user())) {
        // its password would change before the permissions are set, with this very user: the rest is refused, and
        // an administrator is left with a password nobody was told and no tag
        throw new ParameterException(spec.commandLine(), "'" + name + "' is the administrator this command uses for the management"
            + " API: it cannot set its own password or permissions; run it as another administrator (--management), or use"
            + " 'rabbitmqctl change_password " + name + "' on a node");
      }
      String password = passwordStdin ? stdinLine("--password-stdin", "password") : ManagementApi.newPassword();
      String vhost = vhost();
      BrokerPermissions permissions = admin ? BrokerPermissions.ALL
          : gateway ? BrokerPermissions.forService(ServiceIdentities.GATEWAY_SERVICE, name) : BrokerPermissions.forService(name);
      Optional<String> tags = api.userTags(name);
      if (tags.isPresent()) {
        // an existing user: its permissions first, its password last, keeping its tags, so that a failure leaves
        // its old password working
        api.putPermissions(vhost, name, permissions);
        api.putUser(name, password, tags.get());
      } else {
        api.putUser(name, password, "");
        try {
          api.putPermissions(vhost, name, permissions);
        } catch (RuntimeException e) {
          // a new user whose password nobody was told and who may do nothing: not left behind
          try {
            api.deleteUser(name);
          } catch (RuntimeException again) {
            e.addSuppressed(again);
          }
          throw e;
        }
      }
      String as = gateway ? ServiceIdentities.GATEWAY_SERVICE : name;
      err().println("broker user '" + name + "' can use virtual host '" + vhost + "' "
          + (admin ? "with every permission" : "as service " + as + " (least privilege, docs/security.md)")
          + (passwordStdin ? "" : "; its password, printed once:"));
      if (!passwordStdin) {
        out().println(password);
      }
      return SkiffCli.EXIT_OK;
    }
  }

  /** {@code skiff credentials delete NAME}: removes a broker user. */
  @Command(
      name = "delete",
      header = "Deletes a broker user.",
      description = {"Deletes broker user NAME (in every virtual host); its open connections are closed by the broker."},
      footer = {"", "Exit codes: 0 done (also when there was no such user), 1 refused by the broker, 2 usage error (also: NAME is "
          + "the administrator running it), 3 the management API refused the administrator."})
  static final class Delete extends ManagementCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "The broker user.")
    String name;

    @Override
    public Integer call() {
      checkUserName(name, spec);
      ManagementApi api = api();
      if (name.equals(api.user())) {
        throw new ParameterException(spec.commandLine(), "'" + name + "' is the administrator this command uses for the management"
            + " API: deleting it would leave the broker without the administrator you are working as; run it as another"
            + " administrator (--management)");
      }
      if (api.deleteUser(name)) {
        err().println("broker user '" + Printable.of(name) + "' deleted");
      } else {
        err().println("no broker user '" + Printable.of(name) + "': nothing to delete");
      }
      return SkiffCli.EXIT_OK;
    }
  }

  /** {@code skiff credentials setup}: the production set-up of a broker, in one go. */
  @Command(
      name = "setup",
      header = "Applies Skiff's production set-up to a broker's virtual host.",
      description = {
        "In the broker URI's virtual host (created if missing): declares the exchanges " + AmqpNames.RPC_EXCHANGE
            + " and " + AmqpNames.EVENTS_EXCHANGE + "; creates the kernel user with every permission there, the "
            + "HTTP gateway's user with the least privilege of service " + ServiceIdentities.GATEWAY_SERVICE + ", the "
            + "CLI's tool user (it acts for signed-in people only, never as a service) and each service's user "
            + "with least privilege and their topic permissions; and "
            + "deletes the guest user (or, with --guest confine, removes its permissions in this virtual host). "
            + "Prints 'USER PASSWORD' on stdout for each user it creates, once; a user that exists keeps its "
            + "password and gets its permissions again, so running it twice is safe. See docs/security.md."
      },
      footer = {
        "",
        "Example:",
        "  skiff credentials setup --amqp amqp://admin:SECRET@broker/prod \\",
        "      --service com.example.greeter --service com.example.bookings",
        "",
        "Exit codes: 0 done, 1 refused by the broker, 2 usage error, 3 the management API refused the "
            + "administrator."
      })
  static final class Setup extends ManagementCommand {
    /** What happens to the guest user. */
    enum Guest {
      /** Deleted: it can no longer log in (production). */
      delete,
      /** Its permissions in this virtual host removed: it may still use others (a shared test broker). */
      confine,
      /** Left as it is (development). */
      keep
    }

    @Option(names = "--kernel-user", paramLabel = "USER",
        description = "The kernel's broker user. Default: $SKIFF_KERNEL_USER, else " + ServiceIdentities.DEFAULT_KERNEL_USER + ".")
    String kernelUser;

    @Option(names = "--gateway-user", paramLabel = "USER",
        description = "The HTTP gateway's broker user, with a service's least privilege. Default: $SKIFF_GATEWAY_USER, else "
            + ServiceIdentities.DEFAULT_GATEWAY_USER + ".")
    String gatewayUser;

    @Option(names = "--tool-user", paramLabel = "USER",
        description = "The CLI's broker user, which acts for signed-in people only; repeatable. Default: "
            + ServiceIdentities.DEFAULT_TOOL_USER + ".")
    List<String> toolUsers = new ArrayList<>();

    @Option(names = "--service", paramLabel = "NAME", description = "A service to create a least-privilege user for; repeatable.")
    List<String> services = new ArrayList<>();

    @Option(names = "--guest", paramLabel = "delete|confine|keep", description = "What to do with the guest user (default: delete).")
    Guest guest = Guest.delete;

    @Override
    public Integer call() {
      String kernel = kernelUser != null ? kernelUser : ServiceIdentities.fromEnvironment(env()).kernelUser();
      String gateway = gatewayUser != null ? gatewayUser : ServiceIdentities.fromEnvironment(env()).gatewayUser();
      if (gateway.equals(kernel) || services.contains(gateway) || !Names.isToken(gateway)) {
        throw new ParameterException(spec.commandLine(), "invalid gateway user '" + gateway + "': a broker user name of its own, "
            + "neither the kernel's nor a service's");
      }
      for (String s : services) {
        checkServiceName(s, spec);
        for (String other : services) {
          if (other.startsWith(s + ".")) {
            throw new ParameterException(spec.commandLine(), "service " + s + " names a prefix of " + other
                + ": its least-privilege permissions would cover the other's queues (docs/security.md); rename one");
          }
        }
      }
      ManagementApi api = api();
      if (guest == Guest.delete && "guest".equals(api.user())) {
        throw new ParameterException(spec.commandLine(), "cannot delete the guest user while using it: create an "
            + "administrator first (e.g. rabbitmqctl add_user ... && rabbitmqctl set_user_tags ... administrator) and pass "
            + "it in --management or the broker URI, or use --guest confine");
      }
      String vhost = vhost();
      api.putVhost(vhost);
      // the administrator running this declares the exchanges, which service users may not declare
      api.putPermissions(vhost, api.user(), BrokerPermissions.ALL);
      api.putExchange(vhost, AmqpNames.RPC_EXCHANGE, "direct");
      api.putExchange(vhost, AmqpNames.EVENTS_EXCHANGE, "topic");
      Set<String> tools = new LinkedHashSet<>(toolUsers.isEmpty() ? List.of(ServiceIdentities.DEFAULT_TOOL_USER) : toolUsers);
      for (String u : tools) {
        if (u.equals(kernel) || u.equals(gateway) || services.contains(u) || !Names.isToken(u)) {
          throw new ParameterException(spec.commandLine(), "invalid tool user '" + u + "': a broker user name of its own, "
              + "neither the kernel's, the gateway's nor a service's");
        }
      }
      ensureUser(api, vhost, kernel, BrokerPermissions.ALL);
      // the gateway faces the internet: a service's least privilege, for its own service name
      ensureUser(api, vhost, gateway, BrokerPermissions.forService(ServiceIdentities.GATEWAY_SERVICE, gateway));
      for (String u : tools) {
        // a tool needs what a service that serves nothing needs: call, and its own reply queues
        ensureUser(api, vhost, u, BrokerPermissions.forService(u));
      }
      for (String s : services) {
        ensureUser(api, vhost, s, BrokerPermissions.forService(s));
      }
      switch (guest) {
        case delete -> {
          api.deleteUser("guest");
          err().println("deleted the guest user");
        }
        case confine -> {
          api.deletePermissions(vhost, "guest");
          err().println("the guest user may no longer use virtual host '" + vhost + "'");
        }
        case keep -> err().println("left the guest user as it is (not for production)");
      }
      boolean defaultTools = tools.equals(Set.of(ServiceIdentities.DEFAULT_TOOL_USER));
      boolean defaultGateway = gateway.equals(ServiceIdentities.DEFAULT_GATEWAY_USER);
      err().println("virtual host '" + vhost + "' set up: kernel user " + kernel + ", gateway user " + gateway + ", tool users " + tools
          + ", services " + services + "; run every process (kernel, gateway and services) with SKIFF_KERNEL_USER=" + kernel
          + (defaultGateway ? "" : " and SKIFF_GATEWAY_USER=" + gateway)
          + (defaultTools ? "" : " and SKIFF_TOOL_USERS=" + String.join(",", tools))
          + " and SKIFF_SHARED_BROKER_USERS= (empty), and the CLI with the tool user's URI; people then sign in with "
          + "'skiff login USER' (the first administrator: SKIFF_BOOTSTRAP_ADMIN_PASSWORD on the kernel)");
      return SkiffCli.EXIT_OK;
    }

    private void ensureUser(ManagementApi api, String vhost, String user, BrokerPermissions p) {
      if (api.userExists(user)) {
        err().println("broker user '" + user + "' exists: password unchanged, permissions set again");
      } else {
        String password = ManagementApi.newPassword();
        api.putUser(user, password, "");
        out().println(user + " " + password);
      }
      api.putPermissions(vhost, user, p);
    }
  }

  /**
   * Refuses a broker user name the management API cannot name in a path: empty, {@code .} or {@code ..}
   * (which a URL resolves away, to another resource), or with a control character.
   */
  static void checkUserName(String name, CommandSpec spec) {
    boolean control = name.codePoints().anyMatch(Character::isISOControl);
    if (name.isBlank() || name.equals(".") || name.equals("..") || control) {
      throw new ParameterException(spec.commandLine(), "'" + Printable.of(name) + "' is not a broker user name: it must not be"
          + " empty, '.' or '..', or have control characters");
    }
  }

  /** Refuses a name that is not a service's, or that is reserved for the kernel (whose user is one). */
  static void checkServiceName(String name, CommandSpec spec) {
    try {
      Names.checkService(name);
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    if (name.startsWith(ServiceIdentities.KERNEL_PREFIX)) {
      throw new ParameterException(spec.commandLine(), "'" + name + "' is a kernel service: kernel services share the kernel's "
          + "user (skiff credentials setup, or create it with --admin)");
    }
  }
}
