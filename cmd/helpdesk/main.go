// Command helpdesk runs the shop's helpdesk: the help center and its search,
// the agents' API, live chat and the email inbox, all from one binary.
//
//	helpdesk [serve] [flags]      run the server (the default)
//	helpdesk reindex [flags]      rebuild every search index from the database
//	helpdesk agent add --email E --name N --role admin|agent --password-stdin
//	helpdesk token create --agent E --name N
//	helpdesk import --mbox FILE | --maildir DIR
//	helpdesk backup --out FILE
//
// Every flag has a HELPDESK_* environment twin; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "helpdesk:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks an error whose message the flag package already printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// run is the whole program, with its environment passed in so tests can run
// it in-process: args without the program name, getenv for the HELPDESK_*
// variables, and the three standard streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, rest = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "reindex":
		return reindex(ctx, rest, getenv, stdout, stderr)
	case "agent":
		return agentCmd(ctx, rest, getenv, stdin, stdout, stderr)
	case "token":
		return tokenCmd(ctx, rest, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return backupCmd(ctx, rest, getenv, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
}

const usage = `usage: helpdesk <command> [flags]

commands:
  serve      run the helpdesk server (the default when no command is given)
  reindex    rebuild every search index from the database
  agent add --email E --name N --role admin|agent --password-stdin
             add an agent; the password is read from standard input
  token create --agent E --name N
             print a new API token for the agent (Authorization: Bearer …)
  import --mbox FILE | --maildir DIR
             bring old mail in as tickets, through the same pipeline as SMTP
  backup --out FILE
             copy the database consistently while the server runs

Run "helpdesk <command> -h" for the flags of a command.
`

// parseFlags parses args into fs, turning the flag package's own errors
// (already printed to the set's output) into errUsage, and -h into a nil
// error with done set.
func parseFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return true, errUsage
	}
	return false, nil
}
