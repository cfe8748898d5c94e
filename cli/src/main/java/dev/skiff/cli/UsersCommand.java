package dev.skiff.cli;

import dev.skiff.kernel.WebServer;
import dev.skiff.kernel.binding.BindingService;
import dev.skiff.kernel.config.ConfigService;
import dev.skiff.kernel.login.LoginService;
import dev.skiff.platform.internal.Printable;
import dev.skiff.platform.security.Role;
import dev.skiff.proto.v1.AddUserRequest;
import dev.skiff.proto.v1.ChangePasswordRequest;
import dev.skiff.proto.v1.ListUsersRequest;
import dev.skiff.proto.v1.SetRolesRequest;
import dev.skiff.proto.v1.UnlockUserRequest;
import dev.skiff.proto.v1.UserInfo;
import dev.skiff.proto.v1.UserList;
import dev.skiff.proto.v1.UserResponse;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code skiff users add|roles|passwd|list|unlock}: the people who sign in, through the login kernel service,
 * as the signed-in user ({@code skiff login}). Adding users, setting roles, listing and unlocking need role
 * {@code ADMIN.USERS} (which {@code ADMIN} covers); anyone signed in may change their own password.
 */
@Command(
    name = "users",
    header = "Manages the people who sign in (the login service's users).",
    description = {
      "Runs as the user signed in with 'skiff login'. add, roles, list and unlock need role ADMIN.USERS (ADMIN covers "
          + "it); passwd changes your own password, or with role ADMIN.USERS anyone's. Passwords are typed at "
          + "the terminal without echo, or read from standard input one per line. See docs/security.md."
    },
    synopsisSubcommandLabel = "COMMAND",
    subcommands = {UsersCommand.Add.class, UsersCommand.Roles.class, UsersCommand.Passwd.class, UsersCommand.ListUsers.class,
        UsersCommand.Unlock.class})
final class UsersCommand extends CommandGroup {

  /** What the commands share: one call to the login service as the signed-in user. */
  abstract static class UsersCall extends KernelServiceCommand {
    UsersCall() {
      super(LoginService.SERVICE);
    }

    /**
     * The roles the platform's own services check (roles are open: a service may check roles of its own,
     * so an {@code ADMIN.} role not here is stored, with a warning, as it is more likely a typing mistake).
     */
    static final List<String> PLATFORM_ROLES = List.of(Role.ADMIN.path(), ConfigService.CONFIG_ADMIN.path(),
        WebServer.PAGES_ROLE.path(), BindingService.ROUTES_ADMIN.path(), LoginService.USERS_ADMIN.path());

    /** Checks roles as the login service will, so that a typo is a usage error here. */
    List<String> checkedRoles(List<String> roles) {
      List<String> out = new ArrayList<>();
      for (String r : roles) {
        Role role = given(() -> Role.parse(r));
        if (role.path().startsWith("ADMIN.") && !PLATFORM_ROLES.contains(role.path())) {
          err().println("skiff: warning: " + Printable.of(role.toString()) + " is not one of the platform's roles ("
              + String.join(", ", PLATFORM_ROLES) + "); stored as given, for a service that checks it itself");
        }
        out.add(role.toString());
      }
      return out;
    }

    static void print(PrintWriter out, UserInfo u) {
      out.println(Printable.of(u.getUser()) + "  roles: " + (u.getRolesCount() == 0 ? "none"
          : u.getRolesList().stream().map(Printable::of).collect(Collectors.joining(", ")))
          + (u.getLocked() ? "  (locked out for now)" : ""));
    }
  }

  /** {@code skiff users add USER [--role ROLE]...}. */
  @Command(
      name = "add",
      header = "Adds a user, with a password and roles.",
      footer = {"", "Example:", "  skiff users add ada --role ADMIN.ROUTES:com.example.greeter", "",
          "Exit codes: 0 added, 1 refused (e.g. exists), 2 usage error, 3 no connection to the broker, 4 not signed in, 5 not allowed."})
  static final class Add extends UsersCall {
    @Parameters(index = "0", paramLabel = "USER", description = "The new user's name.")
    String user;

    @Option(names = "--role", paramLabel = "ROLE", description = {"A role, PATH or PATH:SCOPE; repeatable. For example:", "ADMIN.ROUTES:com.example.greeter"})
    List<String> roles = new ArrayList<>();

    @Override
    public Integer call() {
      try {
        LoginService.checkName(user); // as the login service will, before the password is asked for
      } catch (dev.skiff.platform.SkiffException e) {
        throw new ParameterException(spec.commandLine(), e.description());
      }
      List<String> checked = checkedRoles(roles);
      return withClient(client -> {
        // before the password is asked for: a name taken is refused without typing one for nothing
        UserList all = call(client, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class);
        if (all.getUsersList().stream().anyMatch(u -> u.getUser().equals(user))) {
          err().println("skiff: user '" + Printable.of(user) + "' already exists ('skiff users passwd " + Printable.of(user)
              + "' sets a new password, 'skiff users roles' the roles)");
          return SkiffCli.EXIT_CALL_FAILED;
        }
        String password = new PasswordPrompt(root().in(), spec).readNew(user);
        UserResponse r = call(client, "users.add",
            AddUserRequest.newBuilder().setUser(user).setPassword(password).addAllRoles(checked).build(), UserResponse.class);
        out().print("added ");
        print(out(), r.getUser());
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff users roles USER ROLE... | --none}. */
  @Command(
      name = "roles",
      header = "Sets a user's roles (replacing them); their sessions end, so they sign in again.",
      footer = {"", "Examples:", "  skiff users roles ada ADMIN.ROUTES ADMIN.CONFIG", "  skiff users roles ada --none", "",
          "Exit codes: 0 set, 1 refused (e.g. no such user), 2 usage error, 3 no connection to the broker, 4 not signed in, 5 not allowed."})
  static final class Roles extends UsersCall {
    @Parameters(index = "0", paramLabel = "USER", description = "The user.")
    String user;

    @Parameters(index = "1..*", arity = "0..*", paramLabel = "ROLE", description = "The roles, PATH or PATH:SCOPE.")
    List<String> roles = new ArrayList<>();

    @Option(names = "--none", description = "Take every role away.")
    boolean none;

    @Override
    public Integer call() {
      if (roles.isEmpty() != none) {
        throw new ParameterException(spec.commandLine(), none ? "give roles or --none, not both" : "give the roles, or --none to take every role away");
      }
      List<String> checked = checkedRoles(roles);
      return withClient(client -> {
        UserResponse r = call(client, "users.roles", SetRolesRequest.newBuilder().setUser(user).addAllRoles(checked).build(),
            UserResponse.class);
        print(out(), r.getUser());
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff users passwd [USER]}. */
  @Command(
      name = "passwd",
      header = "Changes a password (yours, or with role ADMIN.USERS anyone's); every session of that user ends.",
      description = {"For your own password, asks for the current one first (unless you have role ADMIN.USERS)."},
      footer = {"", "Exit codes: 0 changed, 1 refused, 2 usage error, 3 no connection to the broker, 4 not signed in or wrong password, 5 not allowed."})
  static final class Passwd extends UsersCall {
    @Parameters(index = "0", arity = "0..1", paramLabel = "USER", description = "Whose password (default: yours).")
    String user;

    @Option(names = "--no-old", description = "Do not ask for the current password (an administrator setting it).")
    boolean noOld;

    @Override
    public Integer call() {
      PasswordPrompt prompt = new PasswordPrompt(root().in(), spec);
      ChangePasswordRequest.Builder req = ChangePasswordRequest.newBuilder();
      if (user != null) {
        req.setUser(user);
      }
      if (user == null && !noOld) {
        req.setOldPassword(prompt.read("Current password: ", "current password"));
      }
      req.setNewPassword(prompt.readNew(user == null ? "you" : user));
      return withClient(client -> {
        UserResponse r = call(client, "users.passwd", req.build(), UserResponse.class);
        String who = r.getUser().getUser();
        out().println("password of " + Printable.of(who) + " changed; every session of " + Printable.of(who) + " has ended");
        if (user == null || sessionFile().read().map(s -> s.getUser().equals(who)).orElse(false)) {
          sessionFile().delete();
          out().println("sign in again with 'skiff login " + Printable.of(who) + "'");
        }
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff users list}. */
  @Command(
      name = "list",
      header = "Lists the users, their roles and whether they are locked out.",
      footer = {"", "Exit codes: 0 listed, 1 refused, 3 no connection to the broker, 4 not signed in, 5 not allowed."})
  static final class ListUsers extends UsersCall {
    @Override
    public Integer call() {
      return withClient(client -> {
        UserList l = call(client, "users.list", ListUsersRequest.getDefaultInstance(), UserList.class);
        PrintWriter out = out();
        out.printf(Locale.ROOT, "%-24s %-20s %-6s %s%n", "USER", "CREATED", "LOCKED", "ROLES");
        for (UserInfo u : l.getUsersList()) {
          out.printf(Locale.ROOT, "%-24s %-20s %-6s %s%n", Printable.of(u.getUser()),
              Instant.ofEpochMilli(u.getCreatedAtMs()).toString().replaceFirst("\\.\\d+Z$", "Z"), u.getLocked() ? "yes" : "no",
              u.getRolesCount() == 0 ? "none" : u.getRolesList().stream().map(Printable::of).collect(Collectors.joining(", ")));
        }
        return SkiffCli.EXIT_OK;
      });
    }
  }

  /** {@code skiff users unlock USER}. */
  @Command(
      name = "unlock",
      header = "Unlocks a user locked out after failed logins, at every copy of the login service.",
      description = {"Forgets the user's failed logins, so they may log in again at once; their password and sessions "
          + "are left as they are. 'skiff users list' shows who is locked."},
      footer = {"", "Example:", "  skiff users unlock ada", "",
          "Exit codes: 0 unlocked, 1 refused (e.g. no such user), 2 usage error, 3 no connection to the broker, 4 not signed in, 5 not allowed."})
  static final class Unlock extends UsersCall {
    @Parameters(index = "0", paramLabel = "USER", description = "The user.")
    String user;

    @Override
    public Integer call() {
      return withClient(client -> {
        UserResponse r = call(client, "users.unlock", UnlockUserRequest.newBuilder().setUser(user).build(), UserResponse.class);
        out().print("unlocked ");
        print(out(), r.getUser());
        return SkiffCli.EXIT_OK;
      });
    }
  }
}
