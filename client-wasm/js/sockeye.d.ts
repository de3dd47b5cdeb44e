// TypeScript declarations of Sockeye's browser client: the shapes of socket.io-client 4.x.

/** A map from event names to listener signatures (the last parameter may be an ack). */
export interface EventsMap {
  [event: string]: any;
}

/** Any event, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;
type Last<T extends any[]> = T extends [...infer _, infer L] ? L : never;
type AllButLast<T extends any[]> = T extends [...infer H, any] ? H : any[];
type FirstArg<T> = T extends (arg: infer A, ...rest: any[]) => any ? A : any;
type FirstNonErrorArg<T> = T extends (err: Error, arg: infer A, ...rest: any[]) => any ? A : any;
/** An event's parameters with the ack callback taking an error first (`timeout()`). */
type WithTimeoutAck<Params extends any[]> = Last<Params> extends (...args: infer A) => any
  ? [...AllButLast<Params>, (err: Error, ...args: A) => void]
  : Params;

/** Why a socket left its namespace. */
export type DisconnectReason =
  | "io server disconnect"
  | "io client disconnect"
  | "ping timeout"
  | "transport close"
  | "transport error"
  | "parse error"
  | "forced close";

/** The error of `connect_error`: the server's message, and its data when it sent any. */
export interface ConnectError extends Error {
  data?: any;
}

/** Options of the connection (socket.io-client's ManagerOptions). */
export interface ManagerOptions {
  /** Engine.IO path on the server. Default "/socket.io". */
  path?: string;
  /** Extra query parameters sent with every Engine.IO request. */
  query?: Record<string, string | number | boolean>;
  /** Transports to use, the first one to open. Default ["polling", "websocket"]. */
  transports?: Array<"polling" | "websocket">;
  /** Upgrade from polling to WebSocket when both are allowed. Default true. */
  upgrade?: boolean;
  /** Reconnect after losing the connection. Default true. */
  reconnection?: boolean;
  /** Attempts before giving up. Default Infinity. */
  reconnectionAttempts?: number;
  /** First delay between attempts in ms. Default 1000. */
  reconnectionDelay?: number;
  /** Largest delay between attempts in ms. Default 5000. */
  reconnectionDelayMax?: number;
  /** Jitter, 0 to 1. Default 0.5. */
  randomizationFactor?: number;
  /** Time allowed to open the connection, in ms. Default 20000. */
  timeout?: number;
  /** Connect at once. Default true. */
  autoConnect?: boolean;
  /** Always use a new connection. Default false. */
  forceNew?: boolean;
  /** Share one connection between namespaces of one server. Default true. */
  multiplex?: boolean;
}

/** Options of one namespace socket. */
export interface SocketOptions {
  /** Sent with the namespace join: an object, or a function handing one to a callback. */
  auth?: { [key: string]: any } | ((cb: (data: object) => void) => void);
  /** Default ack timeout of every emit, in ms. */
  ackTimeout?: number;
  /** Retries of an unacknowledged emit (emits then go one at a time). */
  retries?: number;
}

/** Events a Manager emits. */
export interface ManagerReservedEvents {
  open: () => void;
  error: (err: Error) => void;
  close: (reason: string) => void;
  reconnect_attempt: (attempt: number) => void;
  reconnect: (attempt: number) => void;
  reconnect_error: (err: Error) => void;
  reconnect_failed: () => void;
}

/** Events a Socket emits on its own. */
export interface SocketReservedEvents {
  connect: () => void;
  connect_error: (err: ConnectError) => void;
  disconnect: (reason: DisconnectReason, description?: any) => void;
}

type ReservedOrUser<Reserved extends EventsMap, User extends EventsMap, Ev> =
  Ev extends keyof Reserved ? Reserved[Ev] : Ev extends keyof User ? User[Ev] : never;

/** A view of the Engine.IO connection. */
export interface Engine {
  readonly id: string | undefined;
  /** The transport in use (the last one used while disconnected). */
  readonly transport: { readonly name: "polling" | "websocket" };
  on(ev: "upgrade", listener: (transport: { name: "websocket" }) => void): this;
  once(ev: "upgrade", listener: (transport: { name: "websocket" }) => void): this;
  off(ev?: "upgrade", listener?: (transport: { name: "websocket" }) => void): this;
  /** Drops the connection as a network cut would ("forced close"); the manager reconnects. */
  close(): void;
}

/** One connection to a server, shared by the sockets of its namespaces. */
export declare class Manager {
  constructor(uri?: string, opts?: Partial<ManagerOptions & SocketOptions>);
  readonly opts: Partial<ManagerOptions & SocketOptions>;
  readonly nsps: Record<string, Socket>;
  /** The Engine.IO connection: its id and transport while connected, and `upgrade`. */
  readonly engine: Engine;
  open(fn?: (err?: Error) => void): this;
  connect(fn?: (err?: Error) => void): this;
  close(): this;
  disconnect(): this;
  socket(nsp: string, opts?: Partial<SocketOptions>): Socket;
  /** Reads (no argument) or sets a reconnection option. */
  reconnection(): boolean;
  reconnection(v: boolean): this;
  reconnectionAttempts(): number;
  reconnectionAttempts(v: number): this;
  reconnectionDelay(): number;
  reconnectionDelay(v: number): this;
  reconnectionDelayMax(): number;
  reconnectionDelayMax(v: number): this;
  randomizationFactor(): number;
  randomizationFactor(v: number): this;
  timeout(): number;
  timeout(v: number): this;
  on<Ev extends keyof ManagerReservedEvents>(ev: Ev, listener: ManagerReservedEvents[Ev]): this;
  once<Ev extends keyof ManagerReservedEvents>(ev: Ev, listener: ManagerReservedEvents[Ev]): this;
  off<Ev extends keyof ManagerReservedEvents>(ev?: Ev, listener?: ManagerReservedEvents[Ev]): this;
  removeAllListeners(ev?: keyof ManagerReservedEvents): this;
  listeners<Ev extends keyof ManagerReservedEvents>(ev: Ev): ManagerReservedEvents[Ev][];
  hasListeners(ev: keyof ManagerReservedEvents): boolean;
}

/** A socket whose next emit's ack takes an error first. */
export interface TimeoutSocket<EmitEvents extends EventsMap> {
  emit<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: string extends keyof EmitEvents ? any[] : WithTimeoutAck<EventParams<EmitEvents, Ev>>
  ): void;
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>>;
}

/** One namespace on a Manager's connection. */
export declare class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
> {
  /** The manager this socket's connection belongs to. */
  readonly io: Manager;
  /** The namespace. */
  readonly nsp: string;
  /** The socket id, while connected. */
  readonly id: string | undefined;
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** Whether the socket will (re)connect on its own. */
  readonly active: boolean;
  /** Whether the last connection restored the session (always false for now). */
  readonly recovered: boolean;
  /** Sent with every join; may be changed before `connect()`. */
  auth: SocketOptions["auth"];

  connect(): this;
  open(): this;
  disconnect(): this;
  close(): this;

  /** Emits an event; a function as the last argument receives the ack. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): this;
  /** Emits and resolves with the ack's first argument. */
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<FirstArg<Last<EventParams<EmitEvents, Ev>>>>;
  /** Emits the `message` event. */
  send(...args: any[]): this;
  /** The next emit's ack waits at most `ms`, then gets an Error first. */
  timeout(ms: number): TimeoutSocket<EmitEvents>;
  /** The next emit is dropped when not connected. */
  readonly volatile: this;
  compress(compress: boolean): this;

  on<Ev extends EventNames<ListenEvents> | keyof SocketReservedEvents>(
    ev: Ev,
    listener: ReservedOrUser<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  once<Ev extends EventNames<ListenEvents> | keyof SocketReservedEvents>(
    ev: Ev,
    listener: ReservedOrUser<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  off<Ev extends EventNames<ListenEvents> | keyof SocketReservedEvents>(
    ev?: Ev,
    listener?: ReservedOrUser<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  listeners<Ev extends EventNames<ListenEvents> | keyof SocketReservedEvents>(
    ev: Ev,
  ): ReservedOrUser<SocketReservedEvents, ListenEvents, Ev>[];
  removeAllListeners(ev?: string): this;
  hasListeners(ev: string): boolean;

  /** Listens to every incoming event. */
  onAny(listener: (event: string, ...args: any[]) => void): this;
  prependAny(listener: (event: string, ...args: any[]) => void): this;
  offAny(listener?: (event: string, ...args: any[]) => void): this;
  listenersAny(): Array<(event: string, ...args: any[]) => void>;
  /** Listens to every outgoing event (when it is sent or buffered). */
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): this;
  listenersAnyOutgoing(): Array<(event: string, ...args: any[]) => void>;
}

/** The io() function, with socket.io-client's aliases attached. */
export interface Lookup {
  <ListenEvents extends EventsMap = DefaultEventsMap, EmitEvents extends EventsMap = ListenEvents>(
    uri?: string,
    opts?: Partial<ManagerOptions & SocketOptions>,
  ): Socket<ListenEvents, EmitEvents>;
  <ListenEvents extends EventsMap = DefaultEventsMap, EmitEvents extends EventsMap = ListenEvents>(
    opts?: Partial<ManagerOptions & SocketOptions>,
  ): Socket<ListenEvents, EmitEvents>;
  Manager: typeof Manager;
  Socket: typeof Socket;
  io: Lookup;
  connect: Lookup;
  protocol: number;
}

/** A socket for the URL's namespace (the page's origin when no URL is given). */
export declare const io: Lookup;
export declare const connect: Lookup;
export default io;
/** The Socket.IO protocol revision spoken. */
export declare const protocol: number;
