return XaiLab.Cli.CliApp.Run(args);
