import json

from django.core.management.base import BaseCommand, CommandError

from classifier.training.ensemble import train_ensemble
from classifier.training.networks import ARCHITECTURES
from classifier.training.train import train


class Command(BaseCommand):
    help = "Train one architecture (or a seed ensemble of it) on a dataset folder (split by patient group), calibrate it and export it to LiteRT."

    def add_arguments(self, parser):
        parser.add_argument("--arch", required=True, choices=sorted(ARCHITECTURES))
        parser.add_argument("--data", required=True, help="folder with covid/, normal/, viral_pneumonia/ (+ manifest.csv)")
        parser.add_argument("--out", required=True, help="output folder for the model, split and curves")
        parser.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--seeds", type=int, nargs="+",
                            help="train one member per seed (members already in OUT/seed<N> are reused) "
                                 "and export their ensemble")
        parser.add_argument("--input-size", type=int,
                            help="side of the network's input in pixels (default: the architecture's own)")
        parser.add_argument("--precise-bn", action="store_true",
                            help="re-estimate BatchNorm statistics on the training images before each validation")
        parser.add_argument("--cue-augmentation", action="store_true",
                            help="draw laterality markers, text, rulers, arrows, frames and acquisition changes "
                                 "on training films of every class (issue 18)")
        parser.add_argument("--extra-data", help="another dataset folder (e.g. cxr-extra), split by its own groups "
                                                 "and added to train, validation and test")
        parser.add_argument("--histogram-equalisation", action="store_true",
                            help="equalise each input's intensity histogram; recorded in the sidecar, so the "
                                 "model is served the same way")
        parser.add_argument("--balance", choices=["source"],
                            help="source: every source of a class weighs the same (instead of class weights only)")
        parser.add_argument("--split", help="reuse this split.csv instead of making a new split")

    def handle(self, *args, **options):
        # A progress bar on a terminal, one line per epoch in a log file.
        verbose = 1 if self.stdout.isatty() else 2
        common = dict(arch=options["arch"], data_dir=options["data"], out_dir=options["out"], epochs=options["epochs"],
                      split_file=options["split"], input_size=options["input_size"],
                      precise_bn=options["precise_bn"], verbose=verbose)
        # Issue 18's levers; one network for now.
        cues = dict(cue_augmentation=options["cue_augmentation"], extra_data_dir=options["extra_data"],
                    histogram_equalisation=options["histogram_equalisation"],
                    balance_sources=options["balance"] == "source")
        if options["seeds"] and any(cues.values()):
            raise CommandError("--cue-augmentation, --extra-data, --histogram-equalisation and --balance train one seed; "
                               "they do not take --seeds yet")
        if options["seeds"]:
            summary = train_ensemble(seeds=options["seeds"], **common)
        else:
            summary = train(seed=options["seed"], **common, **cues)
        self.stdout.write(json.dumps(summary, indent=2))
        self.stdout.write(self.style.SUCCESS(f"Saved {summary['litert_file']} in {options['out']}"))
