// The word list of the safety code (e2ee/FORMAT.md, "Safety code"): 1024 short,
// common English words, each picked by 10 bits of the roster hash. The order is part
// of the format: every participant must map the same bits to the same word, so this
// list may only ever be replaced as a whole, together with a new format version.
// e2ee/words.go holds the same list for the Go reference (TestSafetyCodeWordList).
// Sorted, unique, lowercase a–z, at most six letters; no two words sound alike.

export const WORDS = Object.freeze([
  'able', 'acid', 'acorn', 'actor', 'adult', 'after', 'again', 'agent', 'agree', 'ahead', 'aim',
  'air', 'alarm', 'album', 'alert', 'alien', 'alley', 'alpha', 'amber', 'ample', 'angle', 'ankle',
  'apple', 'apron', 'arch', 'arena', 'arm', 'army', 'arrow', 'art', 'ash', 'aunt', 'autumn',
  'avoid', 'awake', 'award', 'axis', 'baby', 'back', 'bacon', 'badge', 'bag', 'bake', 'ball',
  'bamboo', 'band', 'bank', 'barn', 'base', 'basin', 'basket', 'bath', 'beach', 'bead', 'beam',
  'bean', 'bear', 'beard', 'beast', 'bed', 'bee', 'beef', 'beet', 'bell', 'belt', 'bench', 'berry',
  'bike', 'bird', 'birth', 'bison', 'black', 'blade', 'blank', 'blast', 'blaze', 'blend', 'bless',
  'blind', 'block', 'blond', 'blood', 'bloom', 'blue', 'blush', 'board', 'boat', 'body', 'bold',
  'bolt', 'bone', 'bonus', 'book', 'boot', 'booth', 'border', 'boss', 'bottle', 'bowl', 'box',
  'brain', 'branch', 'brave', 'bread', 'break', 'brick', 'bride', 'bridge', 'brief', 'bring',
  'broad', 'brook', 'broom', 'brown', 'brush', 'bubble', 'bucket', 'buddy', 'budget', 'build',
  'bulb', 'bull', 'bunch', 'burst', 'bus', 'bush', 'busy', 'butter', 'button', 'buyer', 'cabin',
  'cable', 'cactus', 'cake', 'calm', 'camel', 'camera', 'camp', 'canal', 'candy', 'cane', 'canoe',
  'canvas', 'canyon', 'cape', 'car', 'card', 'cargo', 'carpet', 'carrot', 'cart', 'case', 'cash',
  'castle', 'cat', 'cattle', 'cave', 'cedar', 'cell', 'chain', 'chair', 'chalk', 'chance',
  'change', 'charm', 'chart', 'chase', 'cheap', 'check', 'cheek', 'cheese', 'chef', 'cherry',
  'chess', 'chest', 'chick', 'chief', 'child', 'chill', 'chin', 'chip', 'choice', 'chord', 'cider',
  'cinema', 'circle', 'city', 'civil', 'claim', 'clam', 'clap', 'class', 'claw', 'clay', 'clean',
  'clerk', 'click', 'cliff', 'climb', 'clock', 'close', 'cloth', 'cloud', 'clover', 'clown',
  'club', 'coach', 'coast', 'coat', 'cobra', 'cocoa', 'code', 'coffee', 'coin', 'cold', 'collar',
  'comet', 'comic', 'coral', 'cord', 'core', 'cork', 'corn', 'cotton', 'couch', 'count', 'court',
  'cousin', 'cover', 'cow', 'crab', 'craft', 'crane', 'crate', 'crayon', 'cream', 'creek', 'crew',
  'crisp', 'crop', 'cross', 'crowd', 'crown', 'crumb', 'crust', 'cube', 'cup', 'curve', 'cycle',
  'daily', 'dairy', 'daisy', 'dance', 'dawn', 'day', 'deal', 'debut', 'deck', 'deer', 'delta',
  'denim', 'depth', 'desert', 'design', 'desk', 'dial', 'diary', 'diet', 'dinner', 'dish', 'diver',
  'dock', 'doctor', 'dog', 'doll', 'donkey', 'door', 'dot', 'dough', 'dove', 'dozen', 'draft',
  'dragon', 'drama', 'dream', 'dress', 'drift', 'drill', 'drink', 'drum', 'duck', 'dune', 'dust',
  'dwarf', 'eager', 'eagle', 'early', 'earth', 'easel', 'east', 'echo', 'edge', 'eel', 'egg',
  'elbow', 'elder', 'elk', 'elm', 'ember', 'empty', 'energy', 'engine', 'enjoy', 'entry', 'equal',
  'era', 'error', 'essay', 'event', 'exact', 'exam', 'exit', 'extra', 'face', 'fact', 'fair',
  'fairy', 'faith', 'falcon', 'fame', 'family', 'fancy', 'farm', 'fault', 'feast', 'fence',
  'ferry', 'fever', 'field', 'fig', 'film', 'final', 'finch', 'finger', 'fire', 'firm', 'fish',
  'flag', 'flame', 'flash', 'flask', 'fleet', 'flight', 'flock', 'flood', 'floor', 'flower',
  'flute', 'foam', 'focus', 'fog', 'folk', 'food', 'foot', 'forest', 'fork', 'fort', 'fossil',
  'fox', 'frame', 'fresh', 'frog', 'frost', 'fruit', 'fuel', 'fun', 'fund', 'funny', 'fur',
  'galaxy', 'game', 'garage', 'garden', 'garlic', 'gate', 'gauge', 'gecko', 'gem', 'gentle',
  'ghost', 'giant', 'gift', 'ginger', 'glad', 'glass', 'globe', 'glove', 'glow', 'glue', 'goal',
  'goat', 'gold', 'golf', 'good', 'goose', 'gown', 'grab', 'grain', 'grant', 'grape', 'graph',
  'grass', 'gravel', 'great', 'green', 'grid', 'grill', 'grin', 'grip', 'group', 'grove', 'growl',
  'guard', 'guess', 'guest', 'guide', 'guitar', 'gulf', 'gum', 'gym', 'habit', 'hair', 'half',
  'hall', 'hammer', 'hand', 'happy', 'hard', 'harp', 'hat', 'hawk', 'hay', 'hazel', 'head',
  'health', 'heart', 'heat', 'hedge', 'hello', 'helmet', 'help', 'hen', 'herb', 'hero', 'heron',
  'hill', 'hint', 'hip', 'hobby', 'hockey', 'hold', 'hole', 'holly', 'home', 'honey', 'hood',
  'hook', 'hope', 'horn', 'horse', 'host', 'hotel', 'hour', 'house', 'hub', 'hug', 'human', 'hunt',
  'hurry', 'hut', 'ice', 'icon', 'idea', 'igloo', 'image', 'inch', 'index', 'ink', 'inlet', 'iron',
  'island', 'item', 'ivory', 'ivy', 'jacket', 'jaguar', 'jam', 'jar', 'jazz', 'jeans', 'jelly',
  'jet', 'jewel', 'job', 'jog', 'join', 'joke', 'jolly', 'joy', 'judge', 'juice', 'jump', 'jungle',
  'jury', 'just', 'kayak', 'keen', 'kettle', 'key', 'kick', 'kid', 'kind', 'king', 'kiosk', 'kit',
  'kite', 'kiwi', 'knee', 'knife', 'knot', 'koala', 'label', 'lace', 'ladder', 'lady', 'lake',
  'lamb', 'lamp', 'land', 'lane', 'laptop', 'large', 'laser', 'late', 'laugh', 'lava', 'lawn',
  'layer', 'leaf', 'lean', 'learn', 'lemon', 'lens', 'lesson', 'letter', 'level', 'lever', 'lid',
  'light', 'lily', 'lime', 'limit', 'linen', 'lion', 'lip', 'list', 'little', 'lizard', 'llama',
  'loaf', 'lobby', 'local', 'lock', 'lodge', 'logic', 'long', 'loop', 'lotus', 'loud', 'lucky',
  'lunar', 'lunch', 'magic', 'maid', 'mail', 'major', 'mango', 'maple', 'marble', 'march',
  'market', 'mask', 'match', 'meadow', 'meal', 'medal', 'melon', 'menu', 'merit', 'metal', 'mild',
  'milk', 'mill', 'mind', 'mint', 'minute', 'mirror', 'mist', 'mix', 'model', 'monkey', 'month',
  'moon', 'moose', 'moss', 'mother', 'motor', 'mouse', 'mouth', 'movie', 'mud', 'mug', 'mule',
  'museum', 'music', 'nail', 'name', 'nature', 'navy', 'neck', 'needle', 'nerve', 'nest', 'net',
  'never', 'new', 'night', 'noble', 'noise', 'noodle', 'north', 'nose', 'note', 'novel', 'number',
  'nurse', 'nut', 'oak', 'oasis', 'oat', 'ocean', 'odd', 'offer', 'office', 'oil', 'olive',
  'omega', 'onion', 'open', 'opera', 'orange', 'orbit', 'order', 'organ', 'otter', 'ounce',
  'outer', 'oval', 'oven', 'owl', 'owner', 'oyster', 'pace', 'pack', 'page', 'paint', 'palace',
  'palm', 'panda', 'panel', 'paper', 'parade', 'park', 'parrot', 'party', 'pass', 'pasta', 'patch',
  'path', 'patio', 'pause', 'peace', 'peach', 'peak', 'pear', 'pearl', 'pedal', 'pen', 'pencil',
  'pepper', 'piano', 'picnic', 'pie', 'pig', 'pillow', 'pilot', 'pine', 'pink', 'pipe', 'pizza',
  'place', 'plain', 'planet', 'plant', 'plate', 'play', 'plaza', 'plum', 'pocket', 'poem', 'poet',
  'point', 'polar', 'pond', 'pony', 'pool', 'poppy', 'porch', 'port', 'potato', 'power', 'prize',
  'proof', 'proud', 'puppy', 'purple', 'puzzle', 'quail', 'quart', 'queen', 'quest', 'quick',
  'quiet', 'quilt', 'quiz', 'quote', 'rabbit', 'race', 'radar', 'radio', 'raft', 'rain', 'raisin',
  'rally', 'ranch', 'range', 'rapid', 'raven', 'razor', 'ready', 'record', 'reef', 'relax', 'rent',
  'reply', 'ribbon', 'rice', 'rich', 'ride', 'ridge', 'ring', 'river', 'road', 'robin', 'robot',
  'rock', 'rocket', 'rodeo', 'roof', 'room', 'root', 'rope', 'rose', 'round', 'route', 'royal',
  'ruby', 'rug', 'ruler', 'rural', 'rush', 'safe', 'sail', 'salad', 'salmon', 'salt', 'sand',
  'sauce', 'scale', 'scarf', 'scene', 'school', 'scout', 'screen', 'sea', 'seal', 'seat', 'secret',
  'seed', 'sense', 'shade', 'shadow', 'shark', 'sheep', 'shelf', 'shell', 'shine', 'ship', 'shirt',
  'shoe', 'shore', 'short', 'shower', 'shrimp', 'sign', 'silk', 'silver', 'simple', 'singer',
  'sister', 'size', 'skate', 'ski', 'skill', 'skirt', 'sky', 'sled', 'sleep', 'slice', 'slide',
  'slope', 'smile', 'smoke', 'snack', 'snail', 'snake', 'snow', 'soap', 'soccer', 'sock', 'sofa',
  'soft', 'soil', 'solar', 'song', 'soup', 'south', 'space', 'spark', 'speed', 'spice', 'spider',
  'spike', 'spoon', 'sport', 'spring', 'square', 'squid', 'stage', 'stair', 'stamp', 'star',
  'steam', 'steel', 'stem', 'step', 'stick', 'stone', 'stool', 'storm', 'story', 'stove', 'straw',
  'stream', 'street', 'strong', 'sugar', 'suit', 'summer', 'sun', 'sunny', 'surf', 'swan', 'sweet',
  'swift', 'swing', 'sword', 'table', 'tail', 'tango', 'tank', 'tape', 'task', 'taxi', 'tea',
  'team', 'teapot', 'tennis', 'tent', 'term', 'test', 'thank', 'thick', 'thumb', 'ticket', 'tide',
  'tiger', 'tile', 'time', 'tiny', 'toast', 'today', 'token', 'tomato', 'tone', 'tool', 'tooth',
  'topic', 'torch', 'total', 'tower', 'town', 'toy', 'track', 'trade', 'trail', 'train', 'tray',
  'treat', 'tree', 'trend', 'trial', 'tribe', 'trick', 'truck', 'trunk', 'tulip', 'tuna', 'tunnel',
  'turkey', 'turtle', 'tutor', 'twin', 'uncle', 'union', 'unit', 'upper', 'urban', 'usual',
  'valley', 'value', 'van', 'vase', 'velvet', 'venue', 'verse', 'video', 'view', 'villa', 'violet',
  'violin', 'visit', 'vista', 'vital', 'vivid', 'voice', 'vote', 'wafer', 'wagon', 'walk', 'wall',
  'walnut', 'warm', 'wave', 'wax', 'web', 'week', 'well', 'west', 'whale', 'wheat', 'wheel',
  'white', 'wide', 'wild', 'willow', 'wind', 'window', 'wing', 'winter', 'wire', 'wise', 'wolf',
  'wonder', 'wood', 'wool', 'word', 'work', 'world', 'worm', 'wrist', 'yacht', 'yard', 'yarn',
  'year', 'yellow', 'yoga', 'young', 'youth', 'zebra', 'zero', 'zinc', 'zone', 'zoo',
]);

/**
 * codeWordIndices reads count × 10 bits of bytes big-endian (most significant bit
 * of byte 0 first) as count word indexes 0–1023; bits past them are ignored.
 */
export function codeWordIndices(bytes, count) {
  if (!Number.isInteger(count) || count < 1) throw new Error('safety code: bad word count');
  const need = Math.ceil((count * 10) / 8);
  if (!bytes || bytes.length < need) throw new Error(`safety code: need ${need} bytes`);
  const out = [];
  for (let w = 0; w < count; w++) {
    let n = 0;
    for (let b = 10 * w; b < 10 * w + 10; b++) n = (n << 1) | ((bytes[b >> 3] >> (7 - (b & 7))) & 1);
    out.push(n);
  }
  return out;
}

/** codeWords turns the first count × 10 bits of bytes into count words (codeWordIndices). */
export function codeWords(bytes, count) {
  return codeWordIndices(bytes, count).map((n) => WORDS[n]);
}
