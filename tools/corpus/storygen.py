#!/usr/bin/env python3
"""Grammar-based generator of short children's stories (the project's own corpus).

Every story comes from its own random stream, seeded by (seed, index), so any
story can be regenerated alone and the output does not depend on how many
stories are written. A story is: an opening that introduces a character, a
setting and an object; one plot (losing something, helping someone, a storm,
a race, baking, building, a fear, a quarrel, a trip, a surprise) with dialogue
and a varying number of attempts or steps; and an ending with an optional
lesson. Names, kinds of character, places, objects, colours, feelings and the
plot's own choices multiply into far more stories than a small model can
memorise, while the language stays simple and regular enough that it can
learn to write coherent new ones.

Split: story k goes to the held-out set when k % HELDOUT_EVERY == 0, so both
sets come from the same distribution but share no story.

Usage:
  storygen.py --seed 1 --count 200000 --train train.txt --heldout heldout.txt
  storygen.py --seed 1 --count 3            # print three stories
Standard library only.
"""

import argparse
import random
import sys

HELDOUT_EVERY = 50
STORY_SEPARATOR = "\n\n"  # stories are separated by one blank line

# ---------------------------------------------------------------------------
# Word lists. Each entry is plain text; articles are added by `a()`.

GIRL_NAMES = """Lily Mia Emma Sara Anna Lucy Zoe Ella Ruby Rosa Maya Nora Ivy Lena Tina Kate
Amy Jane Molly Daisy Hannah Sophie Chloe Grace Alice Clara Eva Fiona Hazel Iris Julia Kira Luna
Mila Nina Olive Penny Rita Sally Tessa Uma Vera Wendy Yara Zara Bella Cora Dora Elsie Freya
Gina Holly Isla Jenny Kitty Leah Mabel Nell Opal Poppy Quinn Rose Stella Tilly Violet Willow""".split()
BOY_NAMES = """Tom Ben Max Sam Leo Jack Finn Noah Eli Theo Owen Adam Hugo Luke Milo Oscar Paul
Ryan Tim Jake Liam Dan Evan Felix George Harry Ian Jonah Kai Lars Matt Ned Otto Pete Rex Seth
Toby Vince Will Zack Alfie Bobby Charlie Dexter Eddie Frankie Gus Henry Jasper Kevin Louis Marco
Nico Ollie Percy Ralph Simon Teddy Ulric Victor Wally""".split()
# Kinds of character: (noun, allowed genders). "girl"/"boy" fix the gender.
KINDS = [("girl", "f"), ("boy", "m"), ("cat", "fm"), ("dog", "fm"), ("rabbit", "fm"), ("bear", "fm"),
         ("fox", "fm"), ("owl", "fm"), ("duck", "fm"), ("mouse", "fm"), ("frog", "fm"), ("pig", "fm"),
         ("squirrel", "fm"), ("puppy", "fm"), ("kitten", "fm"), ("bunny", "fm"), ("turtle", "fm"),
         ("dragon", "fm"), ("robot", "fm"), ("bird", "fm"), ("lamb", "fm"), ("hedgehog", "fm"),
         ("elephant", "fm"), ("lion", "fm"), ("monkey", "fm"), ("penguin", "fm"), ("goat", "fm"),
         ("horse", "fm"), ("deer", "fm"), ("little fish", "fm")]
CHAR_ADJ = """little small happy kind brave shy curious clever funny gentle friendly busy cheerful
quiet tiny young sleepy playful silly proud careful bright lively jolly polite""".split()
PLACES = [  # (noun phrase, preposition used for "in/at/on")
    ("park", "in"), ("forest", "in"), ("garden", "in"), ("village", "in"), ("small town", "in"),
    ("big city", "in"), ("farm", "on"), ("beach", "on"), ("hill", "on"), ("meadow", "in"),
    ("house by the sea", "in"), ("little house", "in"), ("castle", "in"), ("school", "at"),
    ("library", "in"), ("zoo", "at"), ("pond", "by"), ("river", "by"), ("lake", "by"),
    ("mountain", "on"), ("jungle", "in"), ("field of flowers", "in"), ("old barn", "in"),
    ("busy market", "at"), ("quiet street", "on"), ("snowy valley", "in"), ("island", "on"),
    ("cave", "in"), ("playground", "at"), ("bakery", "at")]
PLACE_ADJ = """big small sunny green quiet busy old pretty shady warm cozy windy bright lovely""".split()
OBJECTS = [  # (noun, is plural)
    ("ball", 0), ("kite", 0), ("hat", 0), ("book", 0), ("teddy bear", 0), ("toy car", 0),
    ("shell", 0), ("stone", 0), ("box", 0), ("key", 0), ("map", 0), ("drum", 0), ("bike", 0),
    ("boat", 0), ("doll", 0), ("blanket", 0), ("scarf", 0), ("cup", 0), ("crayons", 1),
    ("marbles", 1), ("boots", 1), ("mittens", 1), ("bell", 0), ("balloon", 0), ("flute", 0),
    ("umbrella", 0), ("basket", 0), ("feather", 0), ("ribbon", 0), ("lamp", 0), ("wagon", 0),
    ("puzzle", 0), ("button", 0), ("necklace", 0), ("jar of honey", 0), ("picture", 0)]
COLORS = """red blue green yellow purple pink orange white brown golden silver shiny striped spotted""".split()
FOODS = """apples cookies cake bread soup pie carrots berries honey sandwiches muffins pancakes
cheese plums pears nuts""".split()
ACTIVITIES = ["play with {pos} friends", "read books", "sing songs", "draw pictures", "run and jump",
              "dance in the rain", "look at the stars", "pick flowers", "build things", "climb trees",
              "splash in puddles", "help {pos} mom", "help {pos} dad", "play hide and seek",
              "count the clouds", "bake with {pos} grandma", "watch the birds", "swim in the lake",
              "ride {pos} bike", "collect shells", "tell jokes", "paint", "fly {pos} kite",
              "plant seeds", "explore"]
TIMES = ["One day", "One morning", "One sunny morning", "One afternoon", "One evening",
         "One cold winter day", "One warm summer day", "One rainy day", "One windy day",
         "Early one morning", "One spring day", "One autumn day", "Later that week", "The next day"]
FEEL_GOOD = """happy glad proud excited thankful joyful""".split()
FEEL_BAD = """sad worried upset scared lonely grumpy""".split()
SAY = ["said", "said", "said", "asked", "shouted", "whispered", "cried", "called", "answered"]
HELPER_ROLES = ["mom", "dad", "grandma", "grandpa", "teacher", "big sister", "big brother",
                "aunt", "uncle", "neighbor"]
WEATHER = [("the sun was shining", "sunny"), ("it was raining", "rainy"), ("the wind was blowing", "windy"),
           ("snow was falling", "snowy"), ("the sky was blue", "clear"), ("the clouds were gray", "cloudy")]
HIDING = ["under the bed", "behind the sofa", "in the tall grass", "under a big leaf", "inside an old boot",
          "behind a tree", "in the toy box", "under a pile of leaves", "next to the pond", "on top of the shelf",
          "in the garden shed", "under the table", "in the sand", "behind the door"]
MORALS = ["it is good to share", "friends help each other", "being kind is the best thing",
          "it is okay to ask for help", "trying again is how you learn", "you can be brave even when you are scared",
          "saying sorry makes things better", "working together makes hard things easy",
          "being patient pays off", "every friend is special", "it is important to tell the truth",
          "small things can make someone happy", "you should listen to others"]


class Character:
    def __init__(self, rng, used_names=()):
        kind, genders = rng.choice(KINDS)
        self.gender = rng.choice(genders)
        names = GIRL_NAMES if self.gender == "f" else BOY_NAMES
        name = rng.choice(names)
        while name in used_names:
            name = rng.choice(names)
        self.name = name
        self.kind = kind
        self.adj = rng.choice(CHAR_ADJ)
        f = self.gender == "f"
        self.he, self.him, self.his = ("she", "her", "her") if f else ("he", "him", "his")
        self.He = self.he.capitalize()
        self.His = self.his.capitalize()
        # "Finn the mouse", but plain "Finn" for children ("Finn the boy" reads oddly).
        self.called = name if kind in ("girl", "boy") else f"{name} the {kind}"


def a(noun_phrase, plural=False):
    """Noun phrase with an indefinite article ("an owl", "a box", "some crayons")."""
    if plural:
        return "some " + noun_phrase
    return ("an " if noun_phrase[0] in "aeiou" else "a ") + noun_phrase


def cap(s):
    return s[0].upper() + s[1:]


def quote(rng, speaker, text, verb=None):
    """A line of dialogue, with the speech tag before or after."""
    verb = verb or ("asked" if text.endswith("?") else rng.choice(SAY))
    if verb == "asked" and not text.endswith("?"):
        verb = "said"
    if rng.random() < 0.6:
        if text[-1] in ".!?":
            if text[-1] == ".":
                text = text[:-1] + ","
            return f'"{text}" {verb} {speaker}.'
        return f'"{text}," {verb} {speaker}.'
    return f'{cap(speaker)} {verb}, "{text}"'


class Story:
    """Builds one story; `self.s` collects sentences, `self.paras` paragraphs."""

    def __init__(self, rng):
        self.rng = rng
        self.hero = Character(rng)
        self.friend = Character(rng, used_names={self.hero.name})
        self.obj, self.obj_plural = rng.choice(OBJECTS)
        self.obj_color = rng.choice(COLORS)
        self.place, self.prep = rng.choice(PLACES)
        self.place_adj = rng.choice(PLACE_ADJ)
        self.paras = []
        self.s = []

    # helpers --------------------------------------------------------------
    def say(self, *sentences):
        self.s.extend(sentences)

    def para(self):
        if self.s:
            self.paras.append(" ".join(self.s))
            self.s = []

    def the_obj(self):
        return f"{self.hero.his} {self.obj_color} {self.obj}"

    def it(self):
        return "them" if self.obj_plural else "it"

    def was(self):
        return "were" if self.obj_plural else "was"

    # parts ----------------------------------------------------------------
    def opening(self):
        r, h = self.rng, self.hero
        # One adjective at most: "a sunny snowy valley" reads badly.
        place_np = self.place if " " in self.place else f"{self.place_adj} {self.place}"
        form = r.randrange(6)
        if form == 0:
            self.say(f"Once upon a time, there was {a(h.adj + ' ' + h.kind)} named {h.name}.")
            self.say(f"{h.He} lived {self.prep} {a(place_np)}.")
        elif form == 1:
            self.say(f"Once upon a time, {self.prep} {a(place_np)}, there lived {a(h.kind)} called {h.name}.")
        elif form == 2:
            self.say(f"{h.name} was {a(h.adj + ' ' + h.kind)} who lived {self.prep} {a(place_np)}.")
        elif form == 3:
            self.say(f"Once upon a time, there was {a(h.kind)}. {h.His} name was {h.name}.")
            self.say(f"{h.He} was very {h.adj}.")
        elif form == 4:
            self.say(f"There once was {a(h.adj + ' ' + h.kind)} named {h.name}.")
        else:
            self.say(f"Once upon a time, {a(h.adj + ' ' + h.kind)} named {h.name} lived {self.prep} {a(place_np)}.")
        act = r.choice(ACTIVITIES).format(pos=h.his)
        self.say(r.choice([f"{h.He} loved to {act}.", f"Every day, {h.he} liked to {act}.",
                           f"{h.His} favorite thing was to {act}."]))
        if r.random() < 0.7:
            word = "were" if self.obj_plural else "was"
            self.say(r.choice([
                f"{h.He} had {a(self.obj_color + ' ' + self.obj, self.obj_plural)} that {h.he} loved very much.",
                f"{h.He} always carried {a(self.obj_color + ' ' + self.obj, self.obj_plural)} with {h.him}.",
                f"{h.His} {self.obj_color} {self.obj} {word} {h.his} most special {'things' if self.obj_plural else 'thing'}."]))
        # The friend is introduced here unless the plot introduces them itself.
        if self.plot not in ("plot_lost", "plot_help") or r.random() < 0.5:
            f = self.friend
            self.say(r.choice([f"{h.His} best friend was {a(f.kind)} named {f.name}.",
                               f"{h.He} had a friend, {a(f.adj + ' ' + f.kind)} called {f.name}.",
                               f"{f.called} lived nearby, and they often played together."]))
        self.para()

    def ending(self, feeling="happy"):
        r, h, f = self.rng, self.hero, self.friend
        endings = [f"From that day on, {h.name} and {f.name} were the best of friends.",
                   f"{h.name} smiled. It had been a very good day.",
                   f"That night, {h.name} went to sleep feeling {feeling}.",
                   f"And {h.name} was {feeling} for a long, long time.",
                   f"{h.name} hugged {f.name}, and they laughed together.",
                   f"Everyone cheered, and {h.name} felt {feeling}."]
        self.say(r.choice(endings))
        if r.random() < 0.5:
            self.say(f"{h.name} learned that {r.choice(MORALS)}.")
        if r.random() < 0.25:
            self.say("The end.")
        self.para()

    # plots ----------------------------------------------------------------
    def plot_lost(self):
        r, h, f = self.rng, self.hero, self.friend
        self.say(f"{r.choice(TIMES)}, {h.name} could not find {self.the_obj()}.")
        self.say(f"{h.He} looked everywhere, but {self.it()} {self.was()} gone.")
        self.say(f"{h.name} felt {r.choice(FEEL_BAD)}.")
        self.say(quote(r, h.name, f"Where is my {self.obj}?"))
        self.para()
        self.say(f"{f.called} came by and saw {h.name}.")
        self.say(quote(r, f.name, f"Why are you {r.choice(['sad', 'crying', 'upset'])}, {h.name}?"))
        self.say(quote(r, h.name, f"I lost my {self.obj_color} {self.obj}. I can't find {self.it()} anywhere."))
        self.say(quote(r, f.name, r.choice(["Don't worry. I will help you look.", "Let's look together!",
                                            "I will help you find " + self.it() + "."])))
        self.para()
        spots = r.sample(HIDING, r.randint(1, 3) + 1)
        for spot in spots[:-1]:
            self.say(f"They looked {spot}, but the {self.obj} {self.was()} not there.")
        self.say(f"Then {f.name} looked {spots[-1]}.")
        self.say(quote(r, f.name, r.choice([f"I found {self.it()}!", "Look! Here it is!", "Here, I see something!"])))
        self.say(f"It was {self.the_obj()}!")
        self.say(f"{h.name} was so {r.choice(FEEL_GOOD)}.")
        self.say(quote(r, h.name, f"Thank you, {f.name}! You are a good friend."))
        self.para()

    def plot_help(self):
        r, h, f = self.rng, self.hero, self.friend
        trouble = r.choice([
            ("was stuck in a tree", "climbed up the tree", "helped {him} climb down"),
            ("had fallen into a hole", "found a long stick", "pulled {him} out"),
            ("had hurt {his} leg", "gave {him} a hug", "walked {him} home slowly"),
            ("could not reach the {food} on a high shelf", "brought a small chair", "got the {food} down"),
            ("was lost and could not find the way home", "held {his} hand", "showed {him} the way home"),
            ("was stuck in the mud", "pushed and pulled", "got {him} out of the mud"),
            ("could not carry a heavy bag of {food}", "took one side of the bag", "carried it home together")])
        food = r.choice(FOODS)
        fmt = dict(him=f.him, his=f.his, food=food)
        self.say(f"{r.choice(TIMES)}, {h.name} was walking {self.prep} the {self.place}.")
        self.say(f"Suddenly, {h.he} heard a small voice.")
        self.say(quote(r, "the voice", r.choice(["Help! Help me, please!", "Can someone help me?", "Please help!"])))
        self.say(f"It was {f.called}. {f.He} {trouble[0].format(**fmt)}.")
        self.para()
        self.say(quote(r, h.name, r.choice(["Don't be scared. I will help you!", "I am coming!",
                                            "Hold on, I will help!"])))
        if r.random() < 0.5:
            self.say(f"At first, {h.name} was not sure what to do.")
            self.say(f"{h.He} thought and thought.")
        self.say(f"Then {h.he} had an idea. {h.He} {trouble[1].format(**fmt)} and {trouble[2].format(**fmt)}.")
        self.say(f"{f.name} was safe.")
        self.say(quote(r, f.name, f"Thank you, {h.name}! You are so {r.choice(['kind', 'brave', 'clever', 'nice'])}."))
        if r.random() < 0.5:
            self.say(f"To say thank you, {f.name} gave {h.name} some {food}.")
            self.say("They sat together and ate them all.")
        self.para()

    def plot_storm(self):
        r, h, f = self.rng, self.hero, self.friend
        self.say(f"{r.choice(TIMES)}, {h.name} and {f.name} were playing {self.prep} the {self.place}.")
        self.say(f"The sky was {r.choice(['blue', 'bright', 'clear'])} and they were having fun.")
        self.say(f"But then, big dark clouds came. The wind began to blow, and it started to rain.")
        self.say(quote(r, f.name, r.choice(["Oh no! A storm is coming!", "I am scared of the thunder!",
                                            "What should we do?"])))
        self.para()
        shelter = r.choice(["under a big tree", "in an old barn", "in a little cave", "under a wooden bridge",
                            "behind a large rock", "on the porch of a house"])
        self.say(quote(r, h.name, f"Come with me! We can hide {shelter}."))
        self.say(f"They ran as fast as they could.")
        self.say(f"They waited together while the rain fell {r.choice(['hard', 'and fell', 'for a long time'])}.")
        if r.random() < 0.6:
            song = r.choice(["sang a song", "told funny stories", "counted the raindrops", "held hands"])
            self.say(f"To stop being scared, they {song}.")
        self.para()
        self.say(f"After a while, the rain stopped and the sun came out.")
        if r.random() < 0.6:
            self.say(f"There was a big rainbow in the sky!")
            self.say(quote(r, f.name, "Look! A rainbow! It is so pretty."))
        self.say(f"{h.name} and {f.name} went home {r.choice(['wet but happy', 'smiling', 'hand in hand'])}.")
        self.para()

    def plot_race(self):
        r, h, f = self.rng, self.hero, self.friend
        self.say(f"{r.choice(TIMES)}, there was a big race {self.prep} the {self.place}.")
        self.say(f"{h.name} wanted to win. {h.He} practiced every day.")
        self.say(quote(r, f.name, f"I will win the race!"))
        self.say(quote(r, h.name, "We will see!"))
        self.para()
        self.say(f"The race began. {h.name} ran fast, and {f.name} ran fast too.")
        win = r.random() < 0.5
        if r.random() < 0.6:
            self.say(f"Then {f.name} tripped and fell down.")
            self.say(f"{h.name} stopped running. {h.He} went back and helped {f.name} get up.")
            self.say(quote(r, f.name, "Why did you stop? Now you will not win."))
            self.say(quote(r, h.name, "Helping a friend is more important than winning."))
            self.say(f"They finished the race together, last of all.")
            self.say(f"But everyone clapped for them, because they had been so kind.")
        elif win:
            self.say(f"At the end, {h.name} was first! {h.He} won the race.")
            self.say(f"{f.name} came second. {f.He} said, \"Well done, {h.name}!\"")
            self.say(f"{h.name} shared the prize with {f.name}.")
        else:
            self.say(f"At the end, {f.name} was first. {h.name} came second.")
            self.say(f"{h.name} felt a little {r.choice(FEEL_BAD)}, but then {h.he} smiled.")
            self.say(quote(r, h.name, f"Good job, {f.name}! You ran so fast."))
        self.para()

    def plot_bake(self):
        r, h, f = self.rng, self.hero, self.friend
        food = r.choice(["cake", "pie", "cookies", "bread", "muffins", "pancakes", "soup"])
        helper = r.choice(HELPER_ROLES)
        who = r.choice([f"{f.name}'s birthday", "a big party", "the school fair", f"{h.his} {helper}"])
        self.say(f"{r.choice(TIMES)}, {h.name} wanted to make {food} for {who}.")
        self.say(f"{h.He} asked {h.his} {helper} for help.")
        self.say(quote(r, f"{h.his} {helper}", "Of course! Let's get everything we need."))
        self.para()
        steps = ["got flour and sugar", "cracked two eggs into a bowl", "added some milk",
                 "mixed everything with a big spoon", "put in some " + r.choice(FOODS)]
        picked = sorted(r.sample(range(len(steps)), r.randint(2, 4)))  # keep the recipe's order
        for i in picked:
            self.say(f"{h.name} {steps[i]}.")
        if r.random() < 0.5:
            self.say(f"Oops! {h.name} spilled some flour on the floor. Now {h.his} nose was white!")
            self.say(f"{h.His} {helper} laughed, and {h.name} laughed too.")
        self.say(f"They waited and waited. Soon the whole house smelled {r.choice(['sweet', 'warm', 'yummy', 'wonderful'])}.")
        self.para()
        self.say(f"When the {food} {'were' if food.endswith('s') else 'was'} ready, {h.name} shared it with {f.name}.")
        self.say(quote(r, f.name, r.choice(["Mmm! This is so good!", "Yum! Can I have some more?",
                                            "You are a great cook!"])))
        self.para()

    def plot_build(self):
        r, h, f = self.rng, self.hero, self.friend
        thing = r.choice(["a sandcastle", "a snowman", "a tree house", "a tall tower of blocks", "a little boat",
                          "a bird house", "a fort made of blankets", "a bridge of sticks"])
        self.say(f"{r.choice(TIMES)}, {h.name} decided to build {thing}.")
        self.say(quote(r, h.name, f"It will be the best one ever!"))
        tries = r.randint(1, 3)
        for i in range(tries):
            what = r.choice(["it fell down", "a big wind knocked it over", "it was too wobbly",
                             "a dog ran by and it fell down", "it broke in two"])
            start = "The first time" if i == 0 else ("Then" if i < tries - 1 else "Again")
            self.say(f"{start}, {what}.")
            if i == 0:
                self.say(f"{h.name} felt {r.choice(FEEL_BAD)}, but {h.he} did not give up.")
        self.para()
        self.say(f"{f.name} saw {h.name} and came to help.")
        self.say(quote(r, f.name, "Let's build it together. I will hold it, and you can make it strong."))
        self.say(f"They worked together {r.choice(['all afternoon', 'for a long time', 'until the sun went down', 'very carefully'])}.")
        self.say(f"At last, {thing.split(' ', 1)[1]} stood tall and strong.")
        self.say(quote(r, h.name, "We did it!"))
        self.para()

    def plot_fear(self):
        r, h, f = self.rng, self.hero, self.friend
        fear = r.choice([("the dark", "turned on a little lamp", "the dark was not so scary"),
                         ("the water", "held " + h.his + " hand in the water", "swimming was fun"),
                         ("big dogs", "showed " + h.him + " how to say hello to a big dog", "the dog was friendly"),
                         ("high places", "climbed up slowly with " + h.him, "the view from the top was beautiful"),
                         ("loud noises", "gave " + h.him + " a soft hat for " + h.his + " ears", "the noise was not so bad"),
                         ("the first day of school", "walked with " + h.him + " to school", "school was fun")])
        self.say(f"{h.name} was afraid of {fear[0]}.")
        self.say(f"{r.choice(TIMES)}, {h.he} told {f.name} about it.")
        self.say(quote(r, h.name, f"I am scared of {fear[0]}. What can I do?"))
        self.say(quote(r, f.name, r.choice(["It is okay to be scared. I will stay with you.",
                                            "Everyone is scared of something. Let's try together.",
                                            "You are braver than you think."])))
        self.para()
        self.say(f"{f.name} {fear[1]}.")
        self.say(f"{h.name} took a deep breath. {h.He} was still a little scared, but {h.he} tried.")
        self.say(f"Soon, {h.name} found out that {fear[2]}.")
        self.say(quote(r, h.name, r.choice(["I am not scared anymore!", "That was not so bad!",
                                            "I did it! Thank you for helping me."])))
        self.para()

    def plot_quarrel(self):
        r, h, f = self.rng, self.hero, self.friend
        self.say(f"{r.choice(TIMES)}, {h.name} and {f.name} both wanted to play with {self.the_obj()}.")
        self.say(quote(r, f.name, f"Let me have {self.it()}!"))
        self.say(quote(r, h.name, f"No, {'they are' if self.obj_plural else 'it is'} mine!"))
        self.say(f"They pulled and pulled.")
        if r.random() < 0.5:
            self.say(f"Then, with a loud sound, the {self.obj} broke!")
            self.say(f"Both friends were very {r.choice(FEEL_BAD)}.")
            self.para()
            self.say(quote(r, h.name, f"I am sorry, {f.name}. I should have shared."))
            self.say(quote(r, f.name, "I am sorry too. Let's fix it together."))
            self.say(f"They fixed the {self.obj} with {r.choice(['glue', 'tape', 'string'])}, and then they took turns.")
        else:
            self.say(f"Then {h.name} saw that {f.name} looked {r.choice(FEEL_BAD)}.")
            self.para()
            self.say(quote(r, h.name, f"You can play with {self.it()} first. Then it is my turn."))
            self.say(quote(r, f.name, f"Thank you! You are a good friend."))
            self.say(f"They took turns all day, and playing together was much more fun.")
        self.para()

    def plot_trip(self):
        r, h, f = self.rng, self.hero, self.friend
        dest, prep = r.choice([p for p in PLACES if p[0] != self.place])
        helper = r.choice(HELPER_ROLES)
        self.say(f"{r.choice(TIMES)}, {h.name}'s {helper} said, \"Today we are going to the {dest}!\"")
        self.say(f"{h.name} was so {r.choice(FEEL_GOOD)}. {h.He} packed {a(self.obj_color + ' ' + self.obj, self.obj_plural)} and some {r.choice(FOODS)}.")
        self.para()
        weather, _ = r.choice(WEATHER)
        self.say(f"When they got to the {dest}, {weather}.")
        seen = r.sample(["a big tree", "a tiny bug", "a family of ducks", "a boat", "a tall tower", "many flowers",
                         "a funny clown", "a sleepy cat", "a huge rock", "a little bridge", "a red door",
                         "a field of sunflowers", "a nest with eggs", "an old man with a long beard"], r.randint(2, 3))
        self.say(f"{h.name} saw {', '.join(seen[:-1])} and {seen[-1]}.")
        if r.random() < 0.5:
            self.say(f"{h.He} also met {f.called}, who was there too.")
            self.say(quote(r, f.name, f"Hello, {h.name}! Do you want to play?"))
            self.say(f"They played together until it was time to go home.")
        else:
            self.say(quote(r, h.name, f"This is the best day ever!"))
        self.say(f"On the way home, {h.name} fell asleep, dreaming about the {dest}.")
        self.para()

    def plot_surprise(self):
        r, h, f = self.rng, self.hero, self.friend
        self.say(f"{r.choice(TIMES)}, {h.name} noticed that {f.name} looked {r.choice(FEEL_BAD)}.")
        self.say(quote(r, h.name, f"What is wrong, {f.name}?"))
        reason = r.choice(["Nobody remembered my birthday.", "I miss my old home.", "My toy is broken.",
                           "I have no one to play with.", "It is a gray and boring day."])
        self.say(quote(r, f.name, reason))
        self.para()
        self.say(f"{h.name} had an idea. {h.He} wanted to make a surprise for {f.name}.")
        gifts = r.sample(["drew a picture", "picked some flowers", "made a card", "baked some cookies",
                          "found a pretty stone", "wrote a little song", "made a crown of leaves"], r.randint(1, 3))
        for g in gifts:
            self.say(f"{h.He} {g}.")
        self.say(f"Then {h.he} went to {f.name}'s house and knocked on the door.")
        self.say(quote(r, h.name, "Surprise! This is for you."))
        self.say(f"{f.name}'s face lit up with a big smile.")
        self.say(quote(r, f.name, f"Thank you, {h.name}! This is the nicest thing ever."))
        self.para()

    def plot_magic(self):
        r, h, f = self.rng, self.hero, self.friend
        thing = r.choice(["a tiny door in a tree", "a glowing stone", "a talking flower", "a magic hat",
                          "a little star that fell from the sky", "an old box with a golden lock"])
        self.say(f"{r.choice(TIMES)}, {h.name} found {thing}.")
        self.say(quote(r, h.name, r.choice(["What is this?", "Wow! I have never seen anything like this!",
                                            "Is this magic?"])))
        wish = r.choice(["to fly like a bird", "for a big pile of " + r.choice(FOODS),
                         "to talk to the animals", "for snow in the summer", "to be as tall as a tree"])
        self.say(f"A soft voice said, \"You can make one wish.\"")
        self.say(f"{h.name} thought for a long time. Then {h.he} wished {wish}.")
        self.para()
        if r.random() < 0.5:
            self.say(f"And it came true! {h.name} could not believe it.")
            self.say(f"{h.He} ran to show {f.name}, and they had the most wonderful day.")
        else:
            self.say(f"But then {h.he} thought of {f.name}, who was {r.choice(FEEL_BAD)}.")
            self.say(f"So {h.name} changed {h.his} wish. {h.He} wished for {f.name} to be happy again.")
            self.say(f"The next day, {f.name} came to play, smiling from ear to ear.")
        self.para()

    PLOTS = ["plot_lost", "plot_help", "plot_storm", "plot_race", "plot_bake", "plot_build",
             "plot_fear", "plot_quarrel", "plot_trip", "plot_surprise", "plot_magic"]

    def build(self):
        self.plot = plot = self.rng.choice(self.PLOTS)
        self.opening()
        getattr(self, plot)()
        # Sometimes a second, shorter episode: longer stories with a changing topic.
        if self.rng.random() < 0.2:
            second = self.rng.choice([p for p in self.PLOTS if p != plot])
            getattr(self, second)()
        self.ending(self.rng.choice(FEEL_GOOD))
        return "\n".join(self.paras)


def story(seed, index):
    """Story number `index` of the corpus with this seed; independent of all others."""
    rng = random.Random(f"webaccel-storygen:{seed}:{index}")
    return Story(rng).build()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=3, help="number of stories (train + held-out)")
    p.add_argument("--start", type=int, default=0, help="index of the first story")
    p.add_argument("--train", help="write training stories here (else print all to stdout)")
    p.add_argument("--heldout", help="write held-out stories here (every %d-th story)" % HELDOUT_EVERY)
    args = p.parse_args()
    if bool(args.train) != bool(args.heldout):
        p.error("--train and --heldout go together")
    if not args.train:
        for k in range(args.start, args.start + args.count):
            sys.stdout.write(story(args.seed, k) + STORY_SEPARATOR)
        return
    with open(args.train, "w", encoding="utf-8") as tr, open(args.heldout, "w", encoding="utf-8") as ho:
        for k in range(args.start, args.start + args.count):
            (ho if k % HELDOUT_EVERY == 0 else tr).write(story(args.seed, k) + STORY_SEPARATOR)


if __name__ == "__main__":
    main()
