package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The scripts ask tquicctl itself for candidates (urfave/cli's
// --generate-bash-completion), so subcommands and flags stay current.
const bashCompletion = `_tquicctl_complete() {
	local cur opts
	COMPREPLY=()
	cur="${COMP_WORDS[COMP_CWORD]}"
	if [[ "$cur" == "-"* ]]; then
		opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" "$cur" --generate-bash-completion 2>/dev/null)
	else
		opts=$("${COMP_WORDS[@]:0:$COMP_CWORD}" --generate-bash-completion 2>/dev/null)
	fi
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	return 0
}
complete -o bashdefault -o default -F _tquicctl_complete tquicctl
`

const zshCompletion = `#compdef tquicctl
_tquicctl() {
	local -a opts
	opts=("${(@f)$(${words[@]:0:$CURRENT-1} --generate-bash-completion 2>/dev/null)}")
	_describe 'values' opts
}
compdef _tquicctl tquicctl
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script",
		ArgsUsage: "bash|zsh",
		UsageText: `source <(tquicctl completion bash)
   tquicctl completion zsh > "${fpath[1]}/_tquicctl"`,
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				fmt.Fprint(c.App.Writer, zshCompletion)
			default:
				return cli.Exit("completion: want bash or zsh", exitUsage)
			}
			return nil
		},
	}
}
