/* Entry points of the hwnas subcommands: one file cli/cmd_<name>.c each.
 * argv[0] is the command word; the return value is the process exit code. */
#ifndef HWNAS_CLI_COMMANDS_H
#define HWNAS_CLI_COMMANDS_H

int cmd_space(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_latency(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_lut(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_netadapt(int argc, char **argv);

#endif
